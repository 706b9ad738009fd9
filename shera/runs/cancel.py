"""Runs layer: ``cancel`` — end a queued or running run as ``killed`` (its worker stops what still runs)."""

from __future__ import annotations

from shera.model.records import RunRecord
from shera.store import runs as run_store
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound


def cancel(db: Database, run_id: str, tenant_id: str | None, *, reason: str = "cancelled") -> RunRecord:
    """Mark the run ``killed`` with ``reason`` and return it.

    A queued run never starts (a message for it is dropped). A running or approval-waiting run is killed in
    the database at once; the worker holding it sees that within a second, cancels the runtime (steps end
    ``killed``) and leaves the run as it is. ``NotFound`` for no such run (or another tenant's);
    ``Conflict`` when it already finished.
    """
    for _ in range(5):  # the run may change state between the read and the compare-and-set
        run = run_store.get_run(db, run_id, tenant_id)
        if run is None:
            raise NotFound("run not found")
        if run.status in run_store.FINISHED:
            raise Conflict(f"run {run.number} already ended ({run.status})")
        if run_store.transition(
            db, run_id, "killed", run_store.UNFINISHED, tenant_id=tenant_id, values={"reason": reason}
        ):
            break
    killed = run_store.get_run(db, run_id, tenant_id)
    if killed is None:
        raise NotFound("run not found")
    return killed
