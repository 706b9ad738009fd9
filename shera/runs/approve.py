"""Runs layer: ``approve`` and ``decline`` — the decision an approve step (``pending_approval``) waits for.

The worker's approve step polls the run (``runs.execute``): ``approve`` moves the run back to ``running``
with ``approval = approved`` and the step succeeds; ``decline`` ends the run ``failure`` (reason
``declined``) at once, and the worker stops the rest of it.
"""

from __future__ import annotations

from shera.model.records import RunRecord
from shera.store import runs as run_store
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound


def approve(db: Database, run_id: str, tenant_id: str | None, *, actor: str) -> RunRecord:
    """Let a ``pending_approval`` run continue. ``NotFound``; ``Conflict`` when it waits for nothing."""
    values = {"approval": "approved", "approved_by": actor[:100]}
    return _decide(db, run_id, tenant_id, to="running", values=values)


def decline(db: Database, run_id: str, tenant_id: str | None, *, actor: str) -> RunRecord:
    """End a ``pending_approval`` run as ``failure`` (reason ``declined``)."""
    values = {"approval": "declined", "approved_by": actor[:100], "reason": "declined"}
    return _decide(db, run_id, tenant_id, to="failure", values=values)


def _decide(
    db: Database, run_id: str, tenant_id: str | None, *, to: str, values: dict[str, str]
) -> RunRecord:
    run = run_store.get_run(db, run_id, tenant_id)
    if run is None:
        raise NotFound("run not found")
    changed = run_store.transition(db, run_id, to, ("pending_approval",), tenant_id=tenant_id, values=values)
    after = run_store.get_run(db, run_id, tenant_id)
    if after is None:
        raise NotFound("run not found")
    if not changed:
        raise Conflict(f"run {after.number} is {after.status}, not waiting for approval")
    return after
