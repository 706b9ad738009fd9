"""Runs layer: the reaper — ends (or requeues) runs whose worker stopped renewing its lease.

A SIGKILLed worker renews nothing: at most ``lease_seconds`` later its lease has expired and the next reaper
pass (every ``reaper_interval``) ends the run ``failure`` with reason ``worker_lost``, its running steps
``killed``; with requeueing on, the run goes back to ``queued`` instead (up to ``max_attempts`` attempts in
all), and a new outbox row sends it to the queue again. With the defaults (30 s, 10 s) that is within 40 s.
Every change is a compare-and-set on the expired lease, so a late renewal or a second reaper cannot clash.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shera.store import runs as run_store
from shera.store import steps as step_store
from shera.store.db import Database
from shera.store.models import utcnow

log = logging.getLogger(__name__)

LOST = "worker_lost"


def reap(
    db: Database, *, requeue: bool = False, max_attempts: int = 3, now: datetime | None = None
) -> list[str]:
    """One pass; returns the ids of the runs it ended or requeued."""
    now = now or utcnow()
    done: list[str] = []
    for run in run_store.expired_leases(db, now):
        again = requeue and run.attempts < max_attempts
        if again:
            changed = run_store.requeue(
                db, run.id, run_store.ACTIVE, owner=run.lease_owner, expired_before=now, reason=LOST
            )
        else:
            changed = run_store.transition(
                db,
                run.id,
                "failure",
                run_store.ACTIVE,
                owner=run.lease_owner,
                expired_before=now,
                values={"reason": LOST},
            )
        if changed:
            step_store.end_open_steps(db, run.id, now)
            log.warning(
                "run %s: worker %s lost its lease; %s",
                run.id,
                run.lease_owner,
                "requeued" if again else "failed",
            )
            done.append(run.id)
    return done
