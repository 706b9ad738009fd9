"""Store layer: projects (a repository registered by a tenant), always read and written within one tenant.

``get_project(db, id, tenant_id=None)`` is for the webhook path and workers only, which have no tenant: the
webhook then proves itself with the project's secret.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from shera.model.records import ProjectRecord
from shera.store.convert import project_record as _record
from shera.store.db import Database, StoreError
from shera.store.errors import Conflict, NotFound
from shera.store.models import Project

_BY_ID = select(Project).where(Project.id == bindparam("b_id"))
"""Prebuilt: ``get_project`` is on the webhook's hot path."""

#: Columns ``update_project`` may change (ids, tenant and counters are not among them).
UPDATABLE = frozenset(
    {
        "name",
        "clone_url",
        "default_branch",
        "executor",
        "trusted",
        "cancel_superseded",
        "webhook_secret",
        "forge_api_url",
        "forge_token",
    }
)


def _name_taken(exc: StoreError, name: str) -> Conflict | None:
    if isinstance(exc.__cause__, IntegrityError):
        return Conflict(f"a project named {name!r} already exists in this tenant")
    return None


def create_project(
    db: Database,
    tenant_id: str,
    *,
    name: str,
    forge: str,
    clone_url: str,
    webhook_secret: str,
    default_branch: str = "main",
    executor: str = "podman",
    trusted: bool = False,
    cancel_superseded: bool = True,
    forge_api_url: str | None = None,
    forge_token: str | None = None,
) -> ProjectRecord:
    """A new project of the tenant; ``Conflict`` when the tenant already has one of that name."""
    try:
        with db.transaction() as session:
            row = Project(
                tenant_id=tenant_id,
                name=name,
                forge=forge,
                clone_url=clone_url,
                default_branch=default_branch,
                executor=executor,
                trusted=trusted,
                cancel_superseded=cancel_superseded,
                webhook_secret=webhook_secret,
                forge_api_url=forge_api_url,
                forge_token=forge_token,
            )
            session.add(row)
            session.flush()
            return _record(row)
    except StoreError as exc:
        raise (_name_taken(exc, name) or exc) from exc


def get_project(db: Database, project_id: str, tenant_id: str | None) -> ProjectRecord | None:
    """The project, or ``None`` when missing or another tenant's (``tenant_id=None``: any tenant)."""
    with db.read() as session:
        row = session.execute(_BY_ID, {"b_id": project_id}).scalar_one_or_none()
        if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
            return None
        return _record(row)


def list_projects(db: Database, tenant_id: str) -> list[ProjectRecord]:
    with db.transaction() as session:
        rows = session.scalars(select(Project).where(Project.tenant_id == tenant_id).order_by(Project.name))
        return [_record(row) for row in rows]


def update_project(db: Database, project_id: str, tenant_id: str, **changes: Any) -> ProjectRecord:
    """Change the named columns (see ``UPDATABLE``); ``NotFound`` for another tenant's project."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"cannot update project fields {sorted(unknown)}")
    try:
        with db.transaction() as session:
            row = session.get(Project, project_id)
            if row is None or row.tenant_id != tenant_id:
                raise NotFound("project not found")
            for key, value in changes.items():
                setattr(row, key, value)
            session.flush()
            return _record(row)
    except StoreError as exc:
        raise (_name_taken(exc, str(changes.get("name"))) or exc) from exc


def delete_project(db: Database, project_id: str, tenant_id: str) -> None:
    """Delete the project with its secrets, deliveries, runs, steps and logs (database cascades)."""
    with db.transaction() as session:
        result = session.execute(
            delete(Project).where(Project.id == project_id, Project.tenant_id == tenant_id)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("project not found")
