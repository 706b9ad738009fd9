"""Store layer: webhook deliveries — the delivery, its run and the run's outbox row in one transaction.

Duplicates are found by the database, not by a look-up first (which would race): the delivery row is unique
per (project, forge, delivery id) and the run per ``dedupe_key`` (project, ref, sha). A clash rolls the whole
transaction back and is reported as a duplicate, so 50 concurrent copies of one delivery make one run on
SQLite and on PostgreSQL alike.

On SQLite (one writer at a time) concurrent deliveries are committed in groups: each caller queues its
delivery; whoever gets the group lock writes every queued delivery in one transaction, each inside its own
SAVEPOINT (a clash rolls back that delivery only and makes it a duplicate, also of one earlier in the same
group), and every caller returns only after that commit. A group that fails as a whole is retried one
delivery per transaction, so one bad delivery never fails its neighbours.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shera.model.records import ProjectRecord
from shera.store.db import Database, StoreError
from shera.store.models import Delivery, Run, new_id, utcnow
from shera.store.runs import NewRun, add_run

_INSERT = insert(cast(Table, Delivery.__table__))


@dataclass(frozen=True, slots=True)
class Recorded:
    """``created``: a new run ``run_id``; otherwise a duplicate of ``run_id`` (None when not known)."""

    created: bool
    run_id: str | None


class _Duplicate(Exception):
    """Raised inside the transaction to roll it back after a unique-constraint clash."""


@dataclass(eq=False)
class _Pending:
    project: ProjectRecord
    forge: str
    delivery_id: str
    event: str
    new: NewRun
    supersede: bool
    run_id: str = field(default_factory=new_id)
    done: bool = False
    created: bool = False
    error: BaseException | None = None


@dataclass(eq=False)
class _Group:
    mutex: threading.Lock = field(default_factory=threading.Lock)
    leader: threading.Lock = field(default_factory=threading.Lock)
    pending: list[_Pending] = field(default_factory=list)


_GROUPS: weakref.WeakKeyDictionary[Database, _Group] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def record_delivery(
    db: Database,
    project: ProjectRecord,
    *,
    forge: str,
    delivery_id: str,
    event: str,
    new: NewRun,
    supersede: bool,
) -> Recorded:
    """Store the delivery and its new queued run (plus outbox row), or report the duplicate it is."""
    item = _Pending(project, forge, delivery_id[:200], event, new, supersede)
    if db.is_sqlite:
        _group_commit(_group_of(db), db, item)
    else:
        _commit_one(db, item)
    if item.error is not None:
        raise item.error
    if item.created:
        return Recorded(created=True, run_id=item.run_id)
    existing = _existing(db, project.id, forge, item.delivery_id, new.dedupe_key)
    if existing is None:
        raise StoreError(f"cannot record delivery {delivery_id!r}: it clashed, but with nothing stored")
    return Recorded(created=False, run_id=existing)


def _group_of(db: Database) -> _Group:
    with _GROUPS_LOCK:
        group = _GROUPS.get(db)
        if group is None:
            group = _GROUPS[db] = _Group()
        return group


def _group_commit(group: _Group, db: Database, item: _Pending) -> None:
    """Queue ``item``; the caller holding ``group.leader`` commits everything queued, so ``item`` is done
    (committed, a duplicate, or failed) when this returns."""
    with group.mutex:
        group.pending.append(item)
    with group.leader:
        if item.done:
            return
        with group.mutex:
            batch, group.pending = group.pending, []
        try:
            with db.transaction() as session:
                for pending in batch:
                    _write(session, pending, nested=True)
        except BaseException:
            for pending in batch:
                pending.created = False
            if len(batch) == 1:
                raise
            for pending in batch:
                _commit_one(db, pending)
        for pending in batch:
            pending.done = True


def _commit_one(db: Database, item: _Pending) -> None:
    """``item`` in a transaction of its own; a failure other than a clash is kept in ``item.error``."""
    try:
        with db.transaction() as session:
            _write(session, item, nested=False)
    except _Duplicate:
        item.created = False
    except Exception as exc:
        item.created = False
        item.error = exc


def _write(session: Session, item: _Pending, *, nested: bool) -> None:
    """Insert ``item``'s delivery and run in ``session`` (inside a SAVEPOINT when ``nested``); a clash
    leaves ``item.created`` false and, un-nested, rolls the whole transaction back."""
    savepoint = session.begin_nested() if nested else None
    try:
        # A write first: on SQLite it takes the write lock for the whole transaction.
        session.connection().execute(
            _INSERT,
            {
                "id": new_id(),
                "forge": item.forge,
                "delivery_id": item.delivery_id,
                "project_id": item.project.id,
                "event": item.event,
                "run_id": item.run_id,
                "received_at": utcnow(),
            },
        )
        add_run(session, item.project, item.new, run_id=item.run_id, supersede=item.supersede)
    except IntegrityError as exc:
        item.created = False
        if savepoint is not None:
            savepoint.rollback()
            return
        raise _Duplicate from exc
    if savepoint is not None:
        savepoint.commit()
    item.created = True


def _existing(
    db: Database, project_id: str, forge: str, delivery_id: str, dedupe_key: str | None
) -> str | None:
    """The run a clashing delivery duplicates; None when nothing clashes (the error was something else)."""
    with db.transaction() as session:
        delivery = session.scalar(
            select(Delivery).where(
                Delivery.project_id == project_id,
                Delivery.forge == forge,
                Delivery.delivery_id == delivery_id,
            )
        )
        if delivery is not None:
            return delivery.run_id or ""
        if dedupe_key is not None:
            run_id = session.scalar(select(Run.id).where(Run.dedupe_key == dedupe_key))
            if run_id is not None:
                return str(run_id)
    return None
