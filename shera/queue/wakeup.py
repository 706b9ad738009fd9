"""Queue layer: a Redis broker whose idle consumers are woken by each new message instead of polling.

dramatiq's Redis consumer looks for messages, and when it finds none sleeps (backing off up to the worker
timeout) before it looks again: a message waits half that sleep on average before a worker sees it, and
an idle worker wakes many times a second. Here every ``enqueue`` (not a delayed one) also pushes a token
onto a short wake list beside the queue (``<namespace>:<queue>.wake``, capped at ``WAKE_TOKENS``, expiring
after ``WAKE_TTL`` seconds when nobody waits), in one round trip; an idle consumer first fetches, and when
nothing came blocks on that list (``BLPOP``) for up to the worker timeout, so it fetches as soon as a
message exists and otherwise costs one Redis call per timeout.

Correctness never depends on a token: a consumer always fetches before it blocks, so a message whose token
another consumer took (or that arrived while this one was busy) is found by the next fetch; a surplus
token only causes one empty fetch. A consumer whose prefetch is full cannot take a message anyway; it
sleeps ``BUSY_POLL`` and looks again (a worker thread may have finished).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import redis
from dramatiq import Message
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed

WAKE_TOKENS = 64
WAKE_TTL = 300
BUSY_POLL = 0.02


class WakingRedisBroker(RedisBroker):
    """``RedisBroker`` that pushes a wake token per enqueued message and hands out waking consumers."""

    def wake_key(self, queue_name: str) -> str:
        return f"{self.namespace}:{queue_name}.wake"

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Enqueue as dramatiq does, then push a wake token; a failed push is ignored (the message is
        stored; an idle consumer finds it at its next fetch, within the worker timeout)."""
        enqueued: Message[Any] = super().enqueue(message, delay=delay)
        if delay is None:
            key = self.wake_key(enqueued.queue_name)
            pipe = self.client.pipeline(transaction=False)
            pipe.rpush(key, b"1")
            pipe.ltrim(key, -WAKE_TOKENS, -1)
            pipe.expire(key, WAKE_TTL)
            with contextlib.suppress(redis.RedisError, OSError):
                pipe.execute()
        return enqueued

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        """A consumer of ``queue_name`` that waits up to ``timeout`` ms for a wake token when idle."""
        return WakingConsumer(self, queue_name, prefetch, timeout)


class WakingConsumer(_RedisConsumer):
    """dramatiq's Redis consumer with the idle sleep replaced by a ``BLPOP`` on the queue's wake list."""

    broker: WakingRedisBroker

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]

    def __next__(self) -> MessageProxy | None:
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:
                        continue
                    self.misses = 0
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                room = self.prefetch - self.outstanding_message_count
                if room <= 0:
                    time.sleep(BUSY_POLL)
                    return None
                self.message_cache = list(self.broker.do_fetch(self.queue_name, room))
                if self.message_cache:
                    continue
                woken = self.broker.client.blpop(
                    [self.broker.wake_key(self.queue_name)], timeout=max(self.timeout, 1) / 1000
                )
                if woken is None:
                    return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
