"""Runs layer: ``restart`` — a new queued run of a finished run's commit and event."""

from __future__ import annotations

from shera.model.records import RunRecord
from shera.store import runs as run_store
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound
from shera.store.projects import get_project
from shera.store.runs import NewRun


def restart(db: Database, run_id: str, tenant_id: str | None, *, actor: str) -> RunRecord:
    """A new run (next number, ``queued``) with the same event, sha and parameters as ``run_id``.

    It is not deduplicated against the original (restarting is asking for a second run). ``NotFound`` for
    no such run; ``Conflict`` while the run has not finished (cancel it first).
    """
    run = run_store.get_run(db, run_id, tenant_id)
    if run is None:
        raise NotFound("run not found")
    if run.status not in run_store.FINISHED:
        raise Conflict(f"run {run.number} is still {run.status}; cancel it before restarting")
    project = get_project(db, run.project_id, run.tenant_id)
    if project is None:
        raise NotFound("project not found")
    new = NewRun(
        event=run.event,
        ref=run.ref,
        branch=run.branch,
        sha=run.sha,
        message=run.message,
        author=actor or run.author,
        from_fork=run.from_fork,
        event_data=dict(run.event_data),
        params=dict(run.params),
    )
    return run_store.insert_run(db, project, new)
