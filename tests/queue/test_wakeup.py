"""Queue: idle consumers woken by new messages (real Redis) — prompt pickup, nothing lost without a token."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import redis

from shera.queue.broker import QUEUE, close, make_broker, send_run
from shera.queue.relay import Relay
from shera.queue.wakeup import WAKE_TOKENS, RelayWaker, WakingConsumer, WakingRedisBroker
from shera.runs.create import create_from_hook
from shera.store.db import Database
from tests.queue.test_relay import messages
from tests.runs.support import RedisServer, make_project, push_hook, settings_for, sha_of

IDLE_MS = 30_000


def _broker(tmp_path: Path, server: RedisServer) -> WakingRedisBroker:
    broker = make_broker(settings_for(tmp_path, redis_url=server.url))
    assert isinstance(broker, WakingRedisBroker)
    return broker


def _run_id(proxy: object) -> str:
    return str(getattr(proxy, "args")[0])  # noqa: B009 (MessageProxy forwards attributes dynamically)


def test_an_idle_consumer_takes_a_new_message_at_once_not_after_its_idle_timeout(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    broker = _broker(tmp_path, redis_server)
    consumer = broker.consume(QUEUE, prefetch=1, timeout=IDLE_MS)
    assert isinstance(consumer, WakingConsumer)
    got: list[object] = []
    waiting = threading.Thread(target=lambda: got.append(next(consumer)))
    # Given a consumer blocked on an empty queue with a 30 s idle timeout,
    waiting.start()
    time.sleep(0.3)
    assert waiting.is_alive()
    # when a run is sent from another broker (as the API's relay does),
    sender = _broker(tmp_path, redis_server)
    sent = time.monotonic()
    send_run(sender, "run-1")
    waiting.join(IDLE_MS / 1000)
    # then the consumer returns that message long before its idle timeout.
    assert not waiting.is_alive()
    assert time.monotonic() - sent < IDLE_MS / 1000 / 3
    assert [_run_id(proxy) for proxy in got] == ["run-1"]
    close(sender)
    close(broker)


def test_a_message_without_a_wake_token_is_still_fetched_before_blocking(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    broker = _broker(tmp_path, redis_server)
    # Given a message whose wake token another consumer already took,
    send_run(broker, "run-2")
    client = redis.Redis.from_url(redis_server.url)
    client.delete(broker.wake_list(QUEUE).key)
    consumer = broker.consume(QUEUE, prefetch=1, timeout=IDLE_MS)
    started = time.monotonic()
    # a consumer still returns it at once (it fetches before it waits).
    proxy = next(consumer)
    assert proxy is not None and _run_id(proxy) == "run-2"
    assert time.monotonic() - started < IDLE_MS / 1000 / 3
    client.close()
    close(broker)


def test_the_wake_list_stays_short_and_expires_when_nobody_consumes(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    broker = _broker(tmp_path, redis_server)
    for index in range(WAKE_TOKENS * 3):
        send_run(broker, f"run-{index}")
    client = redis.Redis.from_url(redis_server.url)
    key = broker.wake_list(QUEUE).key
    assert client.llen(key) == WAKE_TOKENS
    assert int(client.ttl(key)) > 0
    client.close()
    close(broker)


def test_an_idle_consumer_with_nothing_to_do_returns_after_its_timeout(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    broker = _broker(tmp_path, redis_server)
    consumer = broker.consume(QUEUE, prefetch=1, timeout=200)
    # So the worker's consumer thread gets control back to check for shutdown.
    assert next(consumer) is None
    close(broker)


def test_a_relay_idling_on_the_wake_list_sends_a_new_run_when_the_api_pokes_it(
    database: Database, tmp_path: Path, redis_server: RedisServer
) -> None:
    broker = _broker(tmp_path, redis_server)
    relay = Relay(database, lambda run_id: send_run(broker, run_id), idle=30, waiter=broker.relay_wake.wait)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    # Given a worker's relay that found nothing and now idles for up to 30 s,
    thread.start()
    time.sleep(0.3)
    # when the API (another process: its own broker) commits a run and pokes the relays,
    api_broker = _broker(tmp_path, redis_server)
    waker = RelayWaker(api_broker.relay_wake)
    run_id = create_from_hook(database, make_project(database), "github", push_hook(sha_of(1))).run_id
    waker.poke()
    try:
        # then the relay sends it long before its idle pause would have ended.
        deadline = time.monotonic() + 10
        while run_id not in messages(redis_server) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert messages(redis_server)[str(run_id)] == 1
    finally:
        stop.set()
        relay.wake()
        waker.poke()  # a token ends the relay's wait on the list at once
        thread.join(40)
        waker.close()
        close(api_broker)
        close(broker)
    assert not thread.is_alive()
