"""Queue layer: the dramatiq broker, built explicitly from settings (never dramatiq's global broker).

``redis_url == "stub://"`` gives an in-memory ``StubBroker`` (tests, single-process demos); any other URL a
``RedisBroker`` under ``queue_namespace`` whose idle consumers are woken by new messages (``queue.wakeup``).
Run ids travel as the only argument of one actor on one queue.
Only ``Retries`` middleware is installed: a run's lifetime is bounded by its lease, not by dramatiq's time
limit, and nothing else is used. Redis and dramatiq errors are translated to ``BackendUnavailable`` here.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries

from shera.errors import BackendUnavailable, ConfigError
from shera.queue.wakeup import WakingRedisBroker
from shera.settings import Settings

QUEUE = "shera-runs"
ACTOR = "shera_execute_run"
STUB_URL = "stub://"


def make_broker(settings: Settings) -> dramatiq.Broker:
    """The broker ``settings`` name, with the run queue declared. ``ConfigError`` when no URL is set."""
    url = settings.redis_url
    if not url:
        raise ConfigError("no queue configured: set SHERA_REDIS_URL (or use `shera up`, which starts Redis)")
    middleware: list[Middleware] = [Retries(max_retries=5, min_backoff=1000, max_backoff=30000)]
    broker: dramatiq.Broker
    if url == STUB_URL:
        broker = StubBroker(middleware=middleware)
    else:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        except ValueError as exc:
            raise ConfigError(f"invalid SHERA_REDIS_URL {url!r}: {exc}") from exc
        broker = WakingRedisBroker(  # type: ignore[no-untyped-call]
            client=client, namespace=settings.queue_namespace, middleware=middleware
        )
    broker.declare_queue(QUEUE)
    return broker


def send_run(broker: dramatiq.Broker, run_id: str) -> None:
    """Put one message for ``run_id`` on the run queue; ``BackendUnavailable`` when the broker is down."""
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=QUEUE, actor_name=ACTOR, args=(run_id,), kwargs={}, options={}
    )
    try:
        broker.enqueue(message)
    except (redis.RedisError, dramatiq.errors.DramatiqError, OSError) as exc:
        raise BackendUnavailable(f"cannot reach the queue: {exc}") from exc


def live_run_ids(broker: dramatiq.Broker) -> set[str] | None:
    """Run ids with a message in Redis (waiting, delayed, or taken but not yet acknowledged).

    None when that cannot be known: not a Redis broker, or Redis does not answer.
    """
    if not isinstance(broker, RedisBroker):
        return None
    found: set[str] = set()
    try:
        for queue in (QUEUE, f"{QUEUE}.DQ"):
            key = f"{broker.namespace}:{queue}.msgs"
            for _message_id, data in broker.client.hscan_iter(key, count=500):
                run_id = _run_id(data)
                if run_id is not None:
                    found.add(run_id)
    except (redis.RedisError, OSError):
        return None
    return found


def _run_id(data: bytes) -> str | None:
    try:
        message = json.loads(data)
        args = message.get("args") or []
        return str(args[0]) if message.get("actor_name") == ACTOR and args else None
    except (ValueError, AttributeError, IndexError, TypeError):
        return None


def close(broker: dramatiq.Broker) -> None:
    """Release the broker's connections (errors ignored: used on shutdown)."""
    with contextlib.suppress(redis.RedisError, dramatiq.errors.DramatiqError, OSError):
        broker.close()
