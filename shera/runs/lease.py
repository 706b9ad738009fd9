"""Runs layer: a worker's lease on a run — taken by compare-and-set, renewed by a thread, lost on purpose.

``Lease.take`` moves a queued run to ``running`` for one worker. While the run executes, a daemon thread
checks the run every ``check_interval`` seconds and renews the lease every ``seconds / 3``. When the run
left ``running``/``pending_approval`` (cancelled, superseded, declined, reaped) or the renewal fails because
another owner holds it, the thread sets ``cancel``: the runtime then kills the steps and the run ends.
A database outage does not cancel anything; renewal is retried, and if the lease runs out meanwhile the
reaper decides (the renewal after that fails and cancels the run here).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from shera.model.records import RunRecord
from shera.store import runs as run_store
from shera.store.db import Database
from shera.store.errors import StoreError, StoreUnavailable
from shera.store.models import utcnow

log = logging.getLogger(__name__)


class Lease:
    """The lease of ``owner`` on ``run_id``; ``start`` after a successful ``take``, ``stop`` when done."""

    def __init__(
        self,
        db: Database,
        run_id: str,
        owner: str,
        *,
        seconds: float,
        cancel: threading.Event,
        check_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.owner = owner
        self.seconds = seconds
        self.cancel = cancel
        self.check_interval = max(0.01, min(check_interval, seconds / 3))
        self.lost = threading.Event()
        """Set when the run was taken from this worker (not by ``stop``)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{run_id[:8]}", daemon=True)

    def take(self) -> RunRecord | None:
        """``queued -> running`` for this owner; None when the run is not queued (already taken, ended)."""
        until = utcnow() + timedelta(seconds=self.seconds)
        return run_store.take_lease(self.db, self.run_id, self.owner, until)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (idempotent). The lease itself ends with the run's final transition."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _loop(self) -> None:
        renew_every = self.seconds / 3
        since_renewal = 0.0
        while not self._stop.wait(self.check_interval):
            since_renewal += self.check_interval
            try:
                if since_renewal >= renew_every:
                    since_renewal = 0.0
                    held = self._renew()
                else:
                    held = self._still_ours()
            except (StoreUnavailable, StoreError) as exc:
                log.warning("run %s: cannot check the lease (%s); retrying", self.run_id, exc)
                continue
            if not held:
                self.lost.set()
                self.cancel.set()
                return

    def _renew(self) -> bool:
        until = utcnow() + timedelta(seconds=self.seconds)
        return run_store.renew_lease(self.db, self.run_id, self.owner, until)

    def _still_ours(self) -> bool:
        run = run_store.get_run(self.db, self.run_id, None)
        return run is not None and run.status in run_store.ACTIVE and run.lease_owner == self.owner
