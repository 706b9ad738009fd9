"""Queue: the outbox relay across a Redis outage, and the reconciler (real Redis)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from shera.errors import BackendUnavailable
from shera.queue.broker import QUEUE, close, live_run_ids, make_broker, send_run
from shera.queue.relay import Relay, reconcile
from shera.runs.create import create_from_hook
from shera.store import outbox
from shera.store.db import Database
from tests.runs.support import RedisServer, make_project, push_hook, settings_for, sha_of


def messages(server: RedisServer, namespace: str = "shera") -> Counter[str]:
    """Run ids of the messages waiting in Redis, with how many messages each has."""
    client = redis.Redis.from_url(server.url)
    found: Counter[str] = Counter()
    for data in client.hvals(f"{namespace}:{QUEUE}.msgs"):
        found[json.loads(data)["args"][0]] += 1
    client.close()
    return found


def test_runs_created_while_redis_is_down_are_sent_exactly_once_when_it_returns(
    database: Database, tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    broker = make_broker(settings_for(tmp_path, redis_url=redis_server.url))
    relay = Relay(database, lambda run_id: send_run(broker, run_id), idle=0.05, max_backoff=0.5)
    project = make_project(database)
    # Given Redis is down while 100 pushes arrive,
    redis_server.stop()
    ids = {
        create_from_hook(database, project, "github", push_hook(sha_of(n + 1), branch=f"b{n}")).run_id
        for n in range(100)
    }
    assert len(ids) == 100 and None not in ids
    with pytest.raises(BackendUnavailable):
        relay.pump()
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()
    try:
        time.sleep(1.0)
        # the relay keeps the rows and only warns (once),
        assert thread.is_alive()
        warnings = [r for r in caplog.records if "outbox relay" in r.getMessage()]
        assert len(warnings) == 1
        # and when Redis returns, every run is sent exactly once.
        redis_server.start()
        deadline = time.monotonic() + 20
        while not ids <= set(messages(redis_server)) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # nothing more arrives
    finally:
        stop.set()
        relay.wake()
        thread.join(10)
        close(broker)
    sent = messages(redis_server)
    assert {run_id: sent[run_id] for run_id in ids} == dict.fromkeys(ids, 1)
    assert not thread.is_alive()


def test_the_reconciler_resends_queued_runs_missing_from_redis(
    database: Database, tmp_path: Path, redis_server: RedisServer
) -> None:
    broker = make_broker(settings_for(tmp_path, redis_url=redis_server.url))
    try:
        project = make_project(database)
        run_id = create_from_hook(database, project, "github", push_hook(sha_of(1))).run_id
        assert run_id is not None
        # Given the run was sent once but the message was lost (Redis restarted without persistence),
        mine = [item for item in outbox.claim(database, limit=10_000) if item.run_id == run_id]
        assert len(mine) == 1
        assert run_id not in (live_run_ids(broker) or set())
        # the reconciler adds a new outbox row for it, once;
        time.sleep(0.05)
        assert reconcile(database, broker, older_than=0.01) >= 1
        time.sleep(0.05)
        reconcile(database, broker, older_than=0.01)  # the new row is unsent: nothing more is added
        relay = Relay(database, lambda rid: send_run(broker, rid))
        while relay.pump():
            pass
        assert messages(redis_server)[run_id] == 1
        # and a run whose message waits in Redis is left alone.
        time.sleep(0.05)
        reconcile(database, broker, older_than=0.01)
        assert [i.run_id for i in outbox.claim(database, limit=10_000) if i.run_id == run_id] == []
    finally:
        close(broker)


def test_live_run_ids_is_unknown_when_redis_is_down(tmp_path: Path, redis_server: RedisServer) -> None:
    broker = make_broker(settings_for(tmp_path, redis_url=redis_server.url))
    send_run(broker, "abc")
    assert live_run_ids(broker) == {"abc"}
    redis_server.stop()
    assert live_run_ids(broker) is None
    with pytest.raises(BackendUnavailable):
        send_run(broker, "def")
    close(broker)
