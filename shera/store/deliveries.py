"""Store layer: webhook deliveries — the delivery, its run and the run's outbox row in one transaction.

Duplicates are found by the database, not by a look-up first (which would race): the delivery row is unique
per (project, forge, delivery id) and the run per ``dedupe_key`` (project, ref, sha). A clash rolls the whole
transaction back and is reported as a duplicate, so 50 concurrent copies of one delivery make one run on
SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError

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
    run_id = new_id()
    try:
        with db.transaction() as session:
            try:
                # A write first: on SQLite it takes the write lock for the whole transaction.
                session.connection().execute(
                    _INSERT,
                    {
                        "id": new_id(),
                        "forge": forge,
                        "delivery_id": delivery_id[:200],
                        "project_id": project.id,
                        "event": event,
                        "run_id": run_id,
                        "received_at": utcnow(),
                    },
                )
                add_run(session, project, new, run_id=run_id, supersede=supersede)
            except IntegrityError as exc:
                raise _Duplicate from exc
    except _Duplicate as exc:
        existing = _existing(db, project.id, forge, delivery_id[:200], new.dedupe_key)
        if existing is None:
            raise StoreError(f"cannot record delivery {delivery_id!r}: {exc.__cause__}") from exc
        return Recorded(created=False, run_id=existing)
    return Recorded(created=True, run_id=run_id)


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
