"""Store layer: the steps of a run (one row per step or service of each workflow), in display order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from shera.model.records import StepRecord
from shera.store.convert import step_record
from shera.store.db import Database
from shera.store.logs import add_chunk
from shera.store.models import Step, new_id


@dataclass(frozen=True, slots=True)
class StepEnd:
    """How a step ended, as the runtime reported it."""

    status: str
    exit_code: int | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None


def list_steps(db: Database, run_id: str) -> list[StepRecord]:
    """The steps of a run in plan order (workflow by workflow)."""
    with db.read() as session:
        query = select(Step).where(Step.run_id == run_id).order_by(Step.position, Step.workflow, Step.name)
        return [step_record(step) for step in session.scalars(query)]


def create_steps(
    db: Database, run_id: str, steps: Sequence[tuple[str, str, str]], *, first_position: int = 0
) -> dict[tuple[str, str], str]:
    """Rows for ``(workflow, name, status)`` triples, positioned in the given order from ``first_position``;
    returns their ids.

    A name repeated within a workflow is stored once (the unique key is run, workflow, name).
    """
    ids: dict[tuple[str, str], str] = {}
    with db.transaction() as session:
        for position, (workflow, name, status) in enumerate(steps, start=first_position):
            if (workflow, name) in ids:
                continue
            step_id = new_id()
            session.add(
                Step(
                    id=step_id, run_id=run_id, workflow=workflow, name=name, position=position, status=status
                )
            )
            ids[(workflow, name)] = step_id
    return ids


def add_step(db: Database, run_id: str, workflow: str, name: str, position: int) -> str:
    """The id of step ``(workflow, name)``, creating a ``queued`` row when there is none.

    Only the worker holding the run's lease writes its steps, so look-up-then-insert does not race.
    """
    with db.transaction() as session:
        existing = session.scalar(
            select(Step.id).where(Step.run_id == run_id, Step.workflow == workflow, Step.name == name)
        )
        if existing is not None:
            return str(existing)
        step_id = new_id()
        session.add(Step(id=step_id, run_id=run_id, workflow=workflow, name=name, position=position))
        return step_id


def start_step(db: Database, step_id: str, started_at: datetime) -> None:
    with db.transaction() as session:
        session.execute(
            update(Step)
            .where(Step.id == step_id, Step.status == "queued")
            .values(status="running", started_at=started_at)
        )


def end_step(
    db: Database,
    step_id: str,
    end: StepEnd,
    *,
    log_bytes: int,
    log_truncated: bool,
    last_chunk: tuple[int, bytes] | None = None,
) -> None:
    """Record the end of a step (also of one that never started); ``last_chunk`` (seq, data) is the step's
    last log chunk, stored in the same transaction."""
    with db.transaction() as session:
        if last_chunk is not None:
            add_chunk(session, step_id, *last_chunk)
        session.execute(
            update(Step)
            .where(Step.id == step_id)
            .values(
                status=end.status,
                exit_code=end.exit_code,
                error=end.error,
                started_at=end.started_at,
                finished_at=end.finished_at,
                duration_s=end.duration_s,
                log_bytes=log_bytes,
                log_truncated=log_truncated,
            )
        )


def end_open_steps(db: Database, run_id: str, finished_at: datetime) -> None:
    """Steps of an ended run that never reported an end: running ones ``killed``, queued ones ``skipped``."""
    with db.transaction() as session:
        session.execute(
            update(Step)
            .where(Step.run_id == run_id, Step.status == "running")
            .values(status="killed", exit_code=137, finished_at=finished_at)
        )
        session.execute(
            update(Step).where(Step.run_id == run_id, Step.status == "queued").values(status="skipped")
        )
