"""Store layer: aggregate figures for the metrics endpoint (cheap indexed counts)."""

from __future__ import annotations

from sqlalchemy import func, select

from shera.store.db import Database
from shera.store.models import Run


def runs_by_status(db: Database) -> dict[str, int]:
    """How many runs are in each status, over all tenants."""
    with db.transaction() as session:
        rows = session.execute(select(Run.status, func.count()).group_by(Run.status))
        return {str(status): int(count) for status, count in rows}


def ping(db: Database) -> None:
    """One database round trip; ``StoreUnavailable`` when it does not answer."""
    with db.transaction() as session:
        session.execute(select(1))
