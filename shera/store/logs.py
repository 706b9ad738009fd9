"""Store layer: step logs as ordered chunks of (already masked) bytes; read whole or followed by cursor.

Chunks are read in the order they were written (the chunk table's autoincrement key), across the steps of a
run. A follower passes the ``(step_id, seq)`` of the last piece it has as ``after`` and gets only newer ones:
one indexed query per poll, so SSE can poll every ~200 ms from any process.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shera.store.db import Database
from shera.store.models import LogChunk, Step, utcnow


@dataclass(frozen=True, slots=True)
class LogPiece:
    step_id: str
    step: str
    workflow: str
    seq: int
    data: bytes

    @property
    def cursor(self) -> tuple[str, int]:
        """The ``after`` value that continues after this piece."""
        return (self.step_id, self.seq)


def append_chunk(db: Database, step_id: str, seq: int, data: bytes) -> None:
    """Store one chunk; ``seq`` numbers a step's chunks from 0 (the caller keeps the count)."""
    with db.transaction() as session:
        add_chunk(session, step_id, seq, data)


def add_chunk(session: Session, step_id: str, seq: int, data: bytes) -> None:
    """``append_chunk`` inside the caller's transaction (store-internal)."""
    session.add(LogChunk(step_id=step_id, seq=seq, data=data, created_at=utcnow()))


def read_log(
    db: Database, run_id: str, *, after: tuple[str, int] | None = None, limit: int | None = None
) -> list[LogPiece]:
    """The run's log pieces in write order, only those after the piece ``after`` names (all when it is
    unknown, e.g. from an earlier attempt of a requeued run); at most ``limit`` of them."""
    query = (
        select(LogChunk.id, LogChunk.step_id, Step.name, Step.workflow, LogChunk.seq, LogChunk.data)
        .join(Step, Step.id == LogChunk.step_id)
        .where(Step.run_id == run_id)
        .order_by(LogChunk.id)
    )
    with db.read() as session:
        if after is not None:
            last = session.scalar(
                select(LogChunk.id).where(LogChunk.step_id == after[0], LogChunk.seq == after[1])
            )
            if last is not None:
                query = query.where(LogChunk.id > last)
        if limit is not None:
            query = query.limit(limit)
        return [
            LogPiece(step_id=step_id, step=name, workflow=workflow, seq=seq, data=bytes(data))
            for _id, step_id, name, workflow, seq, data in session.execute(query)
        ]
