"""Store layer: the outbox — run ids written in the run's own transaction, sent to the queue by the relay.

Several relays (API and workers) may poll the same table. ``claim`` marks rows sent before they are sent, one
compare-and-set per row, so a row goes to exactly one relay; a relay that cannot send gives its rows back with
``release``. A relay that dies between claim and send loses the message, which the reconciler repairs (the run
stays ``queued`` in the database, and the database is the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from shera.store.db import Database
from shera.store.models import Outbox, utcnow

_INSERT = insert(cast(Table, Outbox.__table__))


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    run_id: str


def add(session: Session, run_id: str) -> None:
    """Queue ``run_id`` for sending, inside the caller's transaction (store-internal)."""
    session.connection().execute(_INSERT, {"run_id": run_id, "created_at": utcnow(), "attempts": 0})


def pending_count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count(Outbox.id)).where(Outbox.sent_at.is_(None))) or 0)


def claim(db: Database, *, limit: int = 100) -> list[OutboxItem]:
    """Up to ``limit`` unsent rows, oldest first, now marked sent by this caller (and only this caller).

    The candidates are read without the write lock (an idle relay polls often and finds none); then one
    ``UPDATE ... WHERE id IN (candidates) AND sent_at IS NULL RETURNING`` claims them: the repeated
    ``sent_at IS NULL`` is the compare-and-set, so a row another relay claimed meanwhile is left out.
    """
    with db.read() as session:
        candidates = list(
            session.scalars(
                select(Outbox.id).where(Outbox.sent_at.is_(None)).order_by(Outbox.id).limit(limit)
            )
        )
    if not candidates:
        return []
    with db.transaction() as session:
        rows = session.execute(
            update(Outbox)
            .where(Outbox.id.in_(candidates), Outbox.sent_at.is_(None))
            .values(sent_at=utcnow(), attempts=Outbox.attempts + 1)
            .returning(Outbox.id, Outbox.run_id)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted((OutboxItem(row_id, run_id) for row_id, run_id in rows), key=lambda item: item.id)


def release(db: Database, ids: list[int], error: str) -> None:
    """Give claimed rows back (their send failed): they are pending again, with the error noted."""
    if not ids:
        return
    with db.transaction() as session:
        session.execute(
            update(Outbox).where(Outbox.id.in_(ids)).values(sent_at=None, last_error=error[:2000])
        )


def purge_sent(db: Database, *, older_than: timedelta) -> int:
    """Delete rows sent more than ``older_than`` ago; returns how many."""
    cutoff = utcnow() - older_than
    with db.transaction() as session:
        result = session.execute(delete(Outbox).where(Outbox.sent_at.is_not(None), Outbox.sent_at < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]


def last_sent(session: Session, run_id: str) -> datetime | None:
    """When ``run_id`` was last sent (None: never); store-internal."""
    value: datetime | None = session.scalar(
        select(Outbox.sent_at).where(Outbox.run_id == run_id).order_by(Outbox.id.desc()).limit(1)
    )
    return value
