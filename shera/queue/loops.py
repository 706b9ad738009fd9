"""Queue layer: the background threads of a worker (or API) process — relay, reaper, reconciler, retention.

``start_loops`` starts them as daemon threads; ``Loops.stop`` ends them and waits (each checks its stop
event at least every interval, and the relay is woken at once). An exception in one pass is logged and the
loop goes on: these threads are what makes runs survive outages, so they must not die of one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import dramatiq

from shera.deploy.reconcile import reconcile_once
from shera.deploy.service import DeployService
from shera.queue.broker import send_run
from shera.queue.relay import Relay, reconcile
from shera.queue.retention import apply_retention
from shera.queue.wakeup import WakingRedisBroker
from shera.runs.reaper import reap
from shera.settings import Settings
from shera.steps.deploy_wiring import open_service
from shera.store.db import Database

log = logging.getLogger(__name__)


class Loops:
    """Running background loops; ``stop`` ends them (idempotent)."""

    def __init__(self, relay: Relay | None) -> None:
        self.relay = relay
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def spawn(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def every(self, name: str, interval: float, job: Callable[[], object]) -> None:
        """Run ``job`` now and then every ``interval`` seconds."""

        def loop(stop: threading.Event) -> None:
            while not stop.is_set():
                try:
                    job()
                except Exception:
                    log.exception("%s pass failed; retrying in %.1f s", name, interval)
                stop.wait(interval)

        self.spawn(name, loop)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self.relay is not None:
            self.relay.wake()
        for thread in self._threads:
            thread.join(timeout)


def start_loops(
    db: Database,
    settings: Settings,
    broker: dramatiq.Broker,
    *,
    relay: bool = True,
    reaper: bool = True,
    reconciler: bool = True,
    retention: bool = True,
    sync: bool = True,
) -> Loops:
    """Start the chosen loops with the intervals of ``settings`` (image retention: an idempotent pass every
    ``image_retention_interval`` seconds; ``sync: auto`` apps re-applied every ``sync_interval`` seconds when
    the live state drifted from the deploy repository; several processes may run both)."""
    waiter = broker.relay_wake.wait if isinstance(broker, WakingRedisBroker) else None
    outbox_relay = Relay(db, lambda run_id: send_run(broker, run_id), waiter=waiter) if relay else None
    loops = Loops(outbox_relay)
    if outbox_relay is not None:
        loops.spawn("shera-relay", outbox_relay.run)
    if reaper:
        loops.every(
            "shera-reaper",
            settings.reaper_interval,
            lambda: reap(db, requeue=settings.requeue_lost_runs),
        )
    if reconciler:
        loops.every(
            "shera-reconciler",
            settings.reconcile_interval,
            lambda: reconcile(db, broker, older_than=settings.reconcile_interval),
        )
    if retention:
        loops.every(
            "shera-retention", settings.image_retention_interval, lambda: apply_retention(db, settings)
        )
    if sync:
        loops.every("shera-sync", settings.sync_interval, _sync_pass(db, settings))
    return loops


def _sync_pass(db: Database, settings: Settings) -> Callable[[], object]:
    """A pass of the ``sync: auto`` reconciler; the deploy service is opened on first use, then kept."""
    opened: list[DeployService] = []

    def run() -> object:
        if not opened:
            opened.append(open_service(settings, db))
        return reconcile_once(opened[0])

    return run
