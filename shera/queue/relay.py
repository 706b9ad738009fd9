"""Queue layer: the outbox relay (database -> queue) and the reconciler (queued runs the queue lost).

The relay claims pending outbox rows, sends each run id, and gives back what it could not send. While the
queue is down it keeps the rows, logs one warning for the outage, and retries with a growing pause (up to
``max_backoff``); nothing raises out of ``run``. ``wake()`` makes it look at once (after a run was created
in this process), otherwise it looks every ``idle`` seconds; with a ``waiter`` (the Redis wake list the API
notifies, ``queue.wakeup``) those idle pauses end as soon as another process created a run.

The reconciler treats dramatiq as a transport, never as the record: a run ``queued`` in the database for
longer than ``older_than`` seconds, with no unsent outbox row, no send within that time and (on Redis) no
message waiting or in flight, gets a new outbox row. A duplicate message is harmless: actors drop messages
of runs that are not queued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from shera.errors import BackendUnavailable, SheraError
from shera.queue.broker import live_run_ids
from shera.store import outbox
from shera.store import runs as run_store
from shera.store.db import Database
from shera.store.models import utcnow

log = logging.getLogger(__name__)

Send = Callable[[str], None]
"""Sends one run id to the queue; raises ``BackendUnavailable`` when the queue is down."""

Waiter = Callable[[float], "bool | None"]
"""Blocks up to the given seconds for a wake-up from elsewhere; True woken, False timed out, None when it
cannot wait (then the relay pauses on its own)."""

SENT_RETENTION = timedelta(days=1)


class Relay:
    """Moves outbox rows to the queue; ``run(stop)`` in a thread, ``pump()`` for one pass."""

    def __init__(
        self,
        db: Database,
        send: Send,
        *,
        batch: int = 100,
        idle: float = 0.1,
        max_backoff: float = 5.0,
        waiter: Waiter | None = None,
    ) -> None:
        self.db = db
        self.waiter = waiter
        self.send = send
        self.batch = batch
        self.idle = idle
        self.max_backoff = max_backoff
        self._wake = threading.Event()
        self._down = False

    def wake(self) -> None:
        self._wake.set()

    def pump(self) -> int:
        """Send one batch; returns how many were sent. ``BackendUnavailable`` when the queue is down
        (the unsent rows are pending again)."""
        items = outbox.claim(self.db, limit=self.batch)
        for index, item in enumerate(items):
            try:
                self.send(item.run_id)
            except BackendUnavailable as exc:
                outbox.release(self.db, [rest.id for rest in items[index:]], str(exc))
                raise
        return len(items)

    def run(self, stop: threading.Event) -> None:
        """Pump until ``stop`` is set; never raises."""
        pause = self.idle
        while not stop.is_set():
            try:
                sent = self.pump()
            except (BackendUnavailable, SheraError) as exc:
                if not self._down:
                    log.warning("outbox relay: %s; runs stay queued in the database, retrying", exc)
                    self._down = True
                pause = min(max(pause * 2, 0.25), self.max_backoff)
                self._sleep(pause)
                continue
            except Exception:  # a bug must not stop the relay for good
                log.exception("outbox relay failed; retrying")
                self._sleep(self.max_backoff)
                continue
            if self._down:
                log.warning("outbox relay: the queue is back; sending the waiting runs")
                self._down = False
            pause = self.idle
            if sent < self.batch:
                self._idle(stop)

    def _idle(self, stop: threading.Event) -> None:
        """The pause between passes: on the ``waiter`` when there is one (it cannot see ``wake``, so it
        waits ``idle`` at most), else on this relay's own wake-up."""
        waiter = self.waiter
        woken = self._wake.is_set() or stop.is_set()
        if waiter is not None and not woken and waiter(self.idle) is not None:
            return
        self._sleep(self.idle)

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, less when woken (``Loops.stop`` wakes the relay too)."""
        if self._wake.wait(seconds):
            self._wake.clear()


def reconcile(db: Database, broker: dramatiq.Broker, *, older_than: float) -> int:
    """Re-send runs queued in the database but lost from the queue; returns how many were re-sent."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    outbox.purge_sent(db, older_than=SENT_RETENTION)
    stale = run_store.stale_queued(db, cutoff)
    if not stale:
        return 0
    live = live_run_ids(broker)
    if live is None and isinstance(broker, RedisBroker):
        return 0  # Redis does not answer: nothing can be sent now anyway
    missing = [run_id for run_id in stale if live is None or run_id not in live]
    added = run_store.resend(db, missing)
    if added:
        log.warning("reconciler: %d queued run(s) had no message in the queue; re-sent", added)
    return added
