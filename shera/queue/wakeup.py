"""Queue layer: wake lists in Redis — idle consumers and outbox relays are woken by new work, not by polling.

dramatiq's Redis consumer looks for messages, and when it finds none sleeps (backing off up to the worker
timeout) before it looks again: a message waits half that sleep on average before a worker sees it, and
an idle worker wakes many times a second. A ``WakeList`` is a short Redis list of tokens: ``notify`` pushes
one (capped at ``WAKE_TOKENS``, expiring after ``WAKE_TTL`` seconds when nobody waits) in one round trip,
``wait`` blocks on it (``BLPOP``) for up to a timeout.

- ``WakingRedisBroker.enqueue`` (not a delayed one) notifies the queue's list, ``<namespace>:<queue>.wake``;
  an idle ``WakingConsumer`` first fetches, and when nothing came waits on that list for up to the worker
  timeout, so it fetches as soon as a message exists and otherwise costs one Redis call per timeout.
- The API notifies ``<namespace>:relay.wake`` after it committed a run (``RelayWaker``, off the request
  path); the workers' outbox relays wait on it between passes (``WakingRedisBroker.relay_wake``).

Correctness never depends on a token: a consumer always fetches before it waits, and a relay always claims
pending rows after its wait, so work whose token somebody else took (or that came while nobody waited)
is found by the next look; a surplus token only causes one empty look. While Redis is down ``notify`` does
nothing and ``wait`` returns None at once: callers fall back to their own pause.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import redis
from dramatiq import Message
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed

log = logging.getLogger(__name__)

WAKE_TOKENS = 64
WAKE_TTL = 300
BUSY_POLL = 0.02
RELAY = "relay"


class WakeList:
    """One wake list: ``notify`` pushes a token, ``wait`` takes one or times out."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key

    def notify(self) -> bool:
        """Push a token; False (nothing raised) when Redis does not answer."""
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(self.key, b"1")
        pipe.ltrim(self.key, -WAKE_TOKENS, -1)
        pipe.expire(self.key, WAKE_TTL)
        try:
            pipe.execute()
        except (redis.RedisError, OSError):
            return False
        return True

    def wait(self, seconds: float) -> bool | None:
        """Take a token, waiting up to ``seconds``: True when one came, False on timeout, None at once
        when Redis does not answer."""
        try:
            return self.client.blpop([self.key], timeout=max(seconds, 0.001)) is not None
        except (redis.RedisError, OSError):
            return None


class WakingRedisBroker(RedisBroker):
    """``RedisBroker`` that notifies a queue's wake list per enqueued message and hands out waking
    consumers; ``relay_wake`` is the wake list of the outbox relays."""

    def wake_list(self, queue_name: str) -> WakeList:
        return WakeList(self.client, f"{self.namespace}:{queue_name}.wake")

    @property
    def relay_wake(self) -> WakeList:
        return self.wake_list(RELAY)

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Enqueue as dramatiq does, then notify the queue's wake list (a failed notify is ignored: the
        message is stored, and an idle consumer finds it at its next fetch, within the worker timeout)."""
        enqueued: Message[Any] = super().enqueue(message, delay=delay)
        if delay is None:
            self.wake_list(enqueued.queue_name).notify()
        return enqueued

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        """A consumer of ``queue_name`` that waits up to ``timeout`` ms for a wake token when idle."""
        return WakingConsumer(self, queue_name, prefetch, timeout)


class WakingConsumer(_RedisConsumer):
    """dramatiq's Redis consumer with the idle sleep replaced by a wait on the queue's wake list."""

    broker: WakingRedisBroker

    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self._wake = broker.wake_list(queue_name)

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
                woken = self._wake.wait(max(self.timeout, 1) / 1000)
                if woken is None:
                    time.sleep(BUSY_POLL)  # Redis went away after the fetch: dramatiq reconnects
                if not woken:
                    return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]


class RelayWaker:
    """A thread that notifies the relays' wake list after ``poke`` (one token per burst of pokes), so the
    API's request path never waits on Redis. ``close`` stops it."""

    def __init__(self, wake: WakeList) -> None:
        self._wake = wake
        self._poked = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="shera-relay-waker", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._poked.set()

    def close(self) -> None:
        self._closed = True
        self._poked.set()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            self._poked.wait()
            if self._closed:
                return
            self._poked.clear()
            with contextlib.suppress(Exception):  # Redis down: the relays' own polling finds the runs
                self._wake.notify()
