"""API layer: projects of the caller's tenant — register a repository, read, change, delete, rotate secret.

Maintainers manage projects; marking one ``trusted`` or giving it the ``local`` executor needs admin, and
the ``local`` executor is only for trusted projects. Another tenant's project is reported exactly like a
missing one.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from shera.api import present
from shera.api.deps import AdminDep, DbDep, MaintainerDep, SettingsDep, TenantPrincipal, ViewerDep
from shera.api.schemas import (
    ProjectCreate,
    ProjectCreated,
    ProjectPublic,
    ProjectsPublic,
    ProjectUpdate,
    WebhookSecret,
)
from shera.errors import ConfigError
from shera.gitops.urls import transport_of
from shera.model.records import ProjectRecord, Role
from shera.store import projects
from shera.store.db import Database
from shera.store.errors import NotFound

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])

LOCAL = "local"


def owned_project(db: Database, project_id: str, tenant_id: str) -> ProjectRecord:
    """The tenant's project; ``NotFound`` (404) when missing or another tenant's."""
    record = projects.get_project(db, project_id, tenant_id)
    if record is None:
        raise NotFound("project not found")
    return record


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def _check_execution(
    request: Request, principal: TenantPrincipal, executor: str, trusted: bool, *, needs_admin: bool
) -> None:
    """The executor is known, ``local`` only when trusted; 403 when ``needs_admin`` and the caller is not."""
    known: frozenset[str] = request.app.state.executors
    if executor not in known:
        raise ConfigError(f"unknown executor {executor!r}; known: {', '.join(sorted(known))}")
    if executor == LOCAL and not trusted:
        raise ConfigError("the local executor runs steps on the host: only trusted projects may use it")
    if needs_admin and not principal.role.allows(Role.ADMIN):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "trusted projects and the local executor need the admin role"
        )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_project(
    body: ProjectCreate, request: Request, db: DbDep, settings: SettingsDep, principal: MaintainerDep
) -> ProjectCreated:
    """Register a repository; the response holds the webhook secret and the hook URL to give the forge."""
    forges: dict[str, Any] = request.app.state.forges
    if body.forge not in forges:
        raise ConfigError(f"unknown forge {body.forge!r}; known: {', '.join(sorted(forges))}")
    executor = body.executor or settings.default_executor
    needs_admin = body.trusted or executor == LOCAL
    _check_execution(request, principal, executor, body.trusted, needs_admin=needs_admin)
    transport_of(body.clone_url, settings.allowed_git_schemes)
    record = projects.create_project(
        db,
        principal.tenant_id,
        name=body.name,
        forge=body.forge,
        clone_url=body.clone_url,
        webhook_secret=new_webhook_secret(),
        default_branch=body.default_branch,
        executor=executor,
        trusted=body.trusted,
        cancel_superseded=body.cancel_superseded,
        forge_api_url=body.forge_api_url,
        forge_token=body.forge_token,
    )
    return present.project_created(record, settings.public_url)


@router.get("")
def list_projects(db: DbDep, settings: SettingsDep, principal: ViewerDep) -> ProjectsPublic:
    """The projects of the caller's tenant, by name."""
    data = [present.project(p, settings.public_url) for p in projects.list_projects(db, principal.tenant_id)]
    return ProjectsPublic(data=data, count=len(data))


@router.get("/{project_id}")
def get_project(project_id: str, db: DbDep, settings: SettingsDep, principal: ViewerDep) -> ProjectPublic:
    return present.project(owned_project(db, project_id, principal.tenant_id), settings.public_url)


@router.patch("/{project_id}")
def update_project(
    project_id: str,
    body: ProjectUpdate,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: MaintainerDep,
) -> ProjectPublic:
    """Change the given fields; the same rules as at creation apply to the result."""
    current = owned_project(db, project_id, principal.tenant_id)
    changes = body.model_dump(exclude_unset=True)
    nullable = {"forge_api_url", "forge_token"}
    changes = {k: v for k, v in changes.items() if v is not None or k in nullable}
    if "clone_url" in changes:
        transport_of(changes["clone_url"], settings.allowed_git_schemes)
    executor = changes.get("executor", current.executor)
    trusted = changes.get("trusted", current.trusted)
    if "executor" in changes or "trusted" in changes:
        grants = (executor == LOCAL and current.executor != LOCAL) or (trusted and not current.trusted)
        _check_execution(request, principal, executor, trusted, needs_admin=grants)
    record = projects.update_project(db, project_id, principal.tenant_id, **changes)
    request.app.state.hook_projects.forget(project_id)
    return present.project(record, settings.public_url)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: str, request: Request, db: DbDep, principal: AdminDep) -> Response:
    """Delete the project with its secrets, runs and logs (admin)."""
    projects.delete_project(db, project_id, principal.tenant_id)
    request.app.state.hook_projects.forget(project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{project_id}/webhook-secret")
def rotate_webhook_secret(
    project_id: str, request: Request, db: DbDep, settings: SettingsDep, principal: MaintainerDep
) -> WebhookSecret:
    """Replace the webhook secret; shown in this response only. The new one verifies at once; the old one
    stops at once on this API process, within a second on others (``api.hookprojects``)."""
    owned_project(db, project_id, principal.tenant_id)
    record = projects.update_project(db, project_id, principal.tenant_id, webhook_secret=new_webhook_secret())
    request.app.state.hook_projects.forget(project_id)
    return WebhookSecret(
        webhook_secret=record.webhook_secret, hook_url=present.hook_url(settings.public_url, record)
    )
