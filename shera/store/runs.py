"""Store layer: runs — creation with per-project numbers, reads, and every state change as compare-and-set.

A run moves ``queued -> running -> success | failure | killed`` (plus ``pending_approval`` while an approve
step waits, ``skipped``). Every change is one ``UPDATE ... WHERE id = :id AND status IN (:allowed)``; its
row count says whether this caller won, so two workers, a canceller and the reaper can race safely.

SQLite note: the first statement of every writing transaction here is a write, so the transaction holds
SQLite's write lock from its start (reads before a write would run outside it and could go stale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from shera.model.records import ProjectRecord, RunRecord
from shera.store import outbox
from shera.store.convert import maybe_aware, run_record
from shera.store.db import Database
from shera.store.errors import NotFound
from shera.store.models import Outbox, Project, Run, Step, new_id, utcnow

ACTIVE = ("running", "pending_approval")
"""States in which a worker holds the run's lease."""
FINISHED = ("success", "failure", "killed", "skipped")
UNFINISHED = ("queued", *ACTIVE)

# The webhook's hot path runs these prebuilt Core statements with parameters: no ORM unit of work, no
# statement construction or cache-key walk per call.
_RUNS = cast(Table, Run.__table__)
_PROJECTS = cast(Table, Project.__table__)
_BUMP_NUMBER = (
    update(_PROJECTS)
    .where(_PROJECTS.c.id == bindparam("b_project"))
    .values(next_run_number=_PROJECTS.c.next_run_number + 1)
    .returning(_PROJECTS.c.next_run_number)
)
_INSERT_RUN = insert(_RUNS)
# Every other unfinished run of the branch is older: numbers are handed out under the project row lock
# that _BUMP_NUMBER takes. (``number < :n`` would say the same, but SQLite then walks the (project, number)
# index over all of the project's runs; this uses the (project, branch, status) index.)
_SUPERSEDE = (
    update(_RUNS)
    .where(
        _RUNS.c.project_id == bindparam("b_project"),
        _RUNS.c.branch == bindparam("b_branch"),
        _RUNS.c.event == "push",
        _RUNS.c.status.in_(UNFINISHED),
        _RUNS.c.id != bindparam("b_run"),
    )
    .values(status="killed", reason="superseded", finished_at=bindparam("b_finished"))
)


@dataclass(frozen=True, slots=True)
class NewRun:
    """What a new run is made of; ``dedupe_key`` (unique) is set for forge events only."""

    event: str
    ref: str
    branch: str | None
    sha: str
    message: str = ""
    author: str = ""
    from_fork: bool = False
    event_data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None


def get_run(db: Database, run_id: str, tenant_id: str | None) -> RunRecord | None:
    """The run, or None when it does not exist or belongs to another tenant (``tenant_id=None``: any)."""
    with db.read() as session:
        run = session.get(Run, run_id)
        if run is None or (tenant_id is not None and run.tenant_id != tenant_id):
            return None
        return run_record(run)


def list_runs(
    db: Database,
    project_id: str,
    tenant_id: str,
    *,
    status: str | None = None,
    branch: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[RunRecord]:
    """Runs of a project, newest first; empty for another tenant's project."""
    query = select(Run).where(Run.project_id == project_id, Run.tenant_id == tenant_id)
    if status is not None:
        query = query.where(Run.status == status)
    if branch is not None:
        query = query.where(Run.branch == branch)
    query = query.order_by(Run.number.desc()).limit(max(0, limit)).offset(max(0, offset))
    with db.read() as session:
        return [run_record(run) for run in session.scalars(query)]


def insert_run(db: Database, project: ProjectRecord, new: NewRun, *, supersede: bool = False) -> RunRecord:
    """A new ``queued`` run with the project's next number and its outbox row, in one transaction.

    ``NotFound`` when the project is gone. A clash on ``dedupe_key`` raises ``StoreError``; callers that
    expect clashes use ``deliveries.record_delivery``.
    """
    with db.transaction() as session:
        return run_record(Run(**add_run(session, project, new, run_id=new_id(), supersede=supersede)))


def add_run(
    session: Session, project: ProjectRecord, new: NewRun, *, run_id: str, supersede: bool
) -> dict[str, Any]:
    """Store-internal: the run row, its number, its outbox row and the supersede marks, in ``session``;
    returns the run row's column values.

    The project row is updated first: on PostgreSQL that row lock serializes numbering per project (as
    ``SELECT ... FOR UPDATE`` would); on SQLite the database write lock does. This is the webhook's hot
    path: prebuilt Core statements on the session's connection, no ORM unit of work.
    """
    connection = session.connection()
    bumped = connection.execute(_BUMP_NUMBER, {"b_project": project.id}).scalar()
    if bumped is None:
        raise NotFound(f"project {project.id} does not exist")
    number = int(bumped) - 1
    values: dict[str, Any] = {
        "id": run_id,
        "tenant_id": project.tenant_id,
        "project_id": project.id,
        "number": number,
        "status": "queued",
        "reason": None,
        "event": new.event,
        "ref": new.ref,
        "branch": new.branch,
        "sha": new.sha,
        "message": new.message,
        "author": new.author,
        "from_fork": new.from_fork,
        "event_data": new.event_data,
        "params": new.params,
        "dedupe_key": new.dedupe_key,
        "created_at": utcnow(),
        "started_at": None,
        "finished_at": None,
        "lease_owner": None,
        "lease_until": None,
        "attempts": 0,
        "approval": None,
        "approved_by": None,
    }
    connection.execute(_INSERT_RUN, values)
    if supersede and new.event == "push" and new.branch is not None:
        connection.execute(
            _SUPERSEDE,
            {"b_project": project.id, "b_branch": new.branch, "b_run": run_id, "b_finished": utcnow()},
        )
    outbox.add(session, run_id)
    return values


def transition(
    db: Database,
    run_id: str,
    to: str,
    allowed: Sequence[str],
    *,
    tenant_id: str | None = None,
    owner: str | None = None,
    expired_before: datetime | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Compare-and-set ``status`` from one of ``allowed`` to ``to``; True when this call made the change.

    ``owner`` additionally requires that lease holder; ``expired_before`` a lease that ended before that
    time (the reaper: a lease renewed meanwhile is not taken away). Reaching a finished state sets
    ``finished_at`` and drops the lease. ``values`` sets further columns (``reason``, ``approval``...).
    """
    changes: dict[str, Any] = {"status": to, **(values or {})}
    if to in FINISHED:
        changes.setdefault("finished_at", utcnow())
        changes.update(lease_owner=None, lease_until=None)
    query = update(Run).where(Run.id == run_id, Run.status.in_(tuple(allowed)))
    if tenant_id is not None:
        query = query.where(Run.tenant_id == tenant_id)
    query = _lease_filter(query, owner, expired_before)
    with db.transaction() as session:
        return bool(session.execute(query.values(**changes)).rowcount == 1)  # type: ignore[attr-defined]


def _lease_filter(query: Update, owner: str | None, expired_before: datetime | None) -> Update:
    if owner is not None:
        query = query.where(Run.lease_owner == owner)
    if expired_before is not None:
        query = query.where(Run.lease_until < expired_before)
    return query


def take_lease(db: Database, run_id: str, owner: str, until: datetime) -> RunRecord | None:
    """Move a ``queued`` run to ``running`` held by ``owner`` until ``until``; None when not queued.

    Steps and logs of an earlier attempt (a requeued run) are deleted: the new attempt starts clean.
    """
    with db.transaction() as session:
        taken = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == "queued")
            .values(
                status="running",
                lease_owner=owner,
                lease_until=until,
                started_at=utcnow(),
                attempts=Run.attempts + 1,
                approval=None,
            )
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        run = session.get(Run, run_id)
        if run is None:  # pragma: no cover - deleted within our own transaction
            return None
        if run.attempts > 1:
            session.execute(delete(Step).where(Step.run_id == run_id))
        return run_record(run)


def renew_lease(db: Database, run_id: str, owner: str, until: datetime) -> bool:
    """Extend ``owner``'s lease; False when the run left ``running``/``pending_approval`` or changed hands."""
    with db.transaction() as session:
        result = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.lease_owner == owner, Run.status.in_(ACTIVE))
            .values(lease_until=until)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def requeue(
    db: Database,
    run_id: str,
    allowed: Sequence[str],
    *,
    owner: str | None = None,
    expired_before: datetime | None = None,
    reason: str | None = None,
) -> bool:
    """Compare-and-set back to ``queued`` (lease dropped) with a new outbox row; True when it happened.

    ``owner`` and ``expired_before`` as for ``transition``.
    """
    query = _lease_filter(
        update(Run).where(Run.id == run_id, Run.status.in_(tuple(allowed))), owner, expired_before
    )
    with db.transaction() as session:
        result = session.execute(
            query.values(status="queued", lease_owner=None, lease_until=None, started_at=None, reason=reason)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        outbox.add(session, run_id)
        return True


def expired_leases(db: Database, now: datetime, *, limit: int = 100) -> list[RunRecord]:
    """Runs held by a worker whose lease ended before ``now``."""
    query = (
        select(Run)
        .where(Run.status.in_(ACTIVE), Run.lease_until < now)
        .order_by(Run.lease_until)
        .limit(limit)
    )
    with db.transaction() as session:
        return [run_record(run) for run in session.scalars(query)]


def stale_queued(db: Database, older_than: datetime, *, limit: int = 500) -> list[str]:
    """Ids of runs queued since before ``older_than`` with no unsent outbox row and no send since then."""
    pending = select(Outbox.run_id).where(Outbox.sent_at.is_(None))
    query = (
        select(Run.id)
        .where(Run.status == "queued", Run.created_at < older_than, Run.id.not_in(pending))
        .order_by(Run.created_at)
        .limit(limit)
    )
    with db.transaction() as session:
        ids = list(session.scalars(query))
        stale = []
        for run_id in ids:
            sent = maybe_aware(outbox.last_sent(session, run_id))
            if sent is None or sent < older_than:
                stale.append(run_id)
        return stale


def resend(db: Database, run_ids: Sequence[str]) -> int:
    """A new outbox row for each run still ``queued``; returns how many were added."""
    added = 0
    with db.transaction() as session:
        for run_id in run_ids:
            touched = session.execute(
                update(Run).where(Run.id == run_id, Run.status == "queued").values(status="queued")
            )
            if touched.rowcount == 1:  # type: ignore[attr-defined]
                outbox.add(session, run_id)
                added += 1
    return added
