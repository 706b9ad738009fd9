"""Store layer: project secrets. The API writes them and lists names; only the worker reads values.

A secret's ``events`` limit which events receive it; an empty list means every event. Runs from forks get no
secrets at all — that rule belongs to the worker, which simply does not call ``secrets_for`` for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from shera.model.records import SecretRecord
from shera.store.convert import aware
from shera.store.db import Database
from shera.store.errors import NotFound
from shera.store.models import Project, Secret, utcnow


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What the API may show about a secret: never its value."""

    name: str
    events: tuple[str, ...]
    updated_at: datetime


def _info(row: Secret) -> SecretInfo:
    return SecretInfo(name=row.name, events=_events(row.events), updated_at=aware(row.updated_at))


def _events(value: list[Any] | None) -> tuple[str, ...]:
    return tuple(str(item) for item in value or ())


def _owned(session: Any, project_id: str, tenant_id: str) -> None:
    row = session.get(Project, project_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("project not found")


def put_secret(
    db: Database, project_id: str, tenant_id: str, name: str, value: str, events: list[str]
) -> tuple[SecretInfo, bool]:
    """Create or replace a secret; returns its description and whether it was created."""
    with db.transaction() as session:
        _owned(session, project_id, tenant_id)
        row = session.scalars(
            select(Secret).where(Secret.project_id == project_id, Secret.name == name)
        ).first()
        created = row is None
        if row is None:
            row = Secret(tenant_id=tenant_id, project_id=project_id, name=name)
            session.add(row)
        row.value = value
        row.events = list(events)
        row.updated_at = utcnow()
        session.flush()
        return _info(row), created


def list_secrets(db: Database, project_id: str, tenant_id: str) -> list[SecretInfo]:
    """Names and events of the project's secrets; ``NotFound`` for another tenant's project."""
    with db.transaction() as session:
        _owned(session, project_id, tenant_id)
        rows = session.scalars(select(Secret).where(Secret.project_id == project_id).order_by(Secret.name))
        return [_info(row) for row in rows]


def delete_secret(db: Database, project_id: str, tenant_id: str, name: str) -> None:
    with db.transaction() as session:
        _owned(session, project_id, tenant_id)
        result = session.execute(delete(Secret).where(Secret.project_id == project_id, Secret.name == name))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("secret not found")


def secrets_for(db: Database, project_id: str, event: str) -> list[SecretRecord]:
    """The secrets (with values) a run of ``event`` receives: those listing the event, or listing none.

    Worker-only: no tenant check, the run already names its project.
    """
    with db.transaction() as session:
        rows = session.scalars(select(Secret).where(Secret.project_id == project_id).order_by(Secret.name))
        return [
            SecretRecord(name=row.name, value=row.value, events=_events(row.events))
            for row in rows
            if not row.events or event in row.events
        ]
