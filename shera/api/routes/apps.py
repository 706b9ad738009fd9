"""API layer: apps — what runs where, release history, and the verbs rollback, scale, delete, diff.

Tenant-scoped: an (app, environment) the caller's tenant never deployed answers 404 with the same body
whether it belongs to another tenant or does not exist. Verbs go through ``shera.deploy.service`` (built from
the settings on first use, or ``app.state.deploy_service`` when the embedding set one, as tests do).
Roles: viewer reads; developer rolls back and scales; maintainer deletes.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from shera.api.deps import DbDep, DeveloperDep, MaintainerDep, SettingsDep, ViewerDep
from shera.api.schemas import Strict, Timestamp
from shera.deploy.service import DeployOutcome, DeployService
from shera.model.records import ReleaseRecord
from shera.settings import Settings
from shera.steps.deploy_wiring import open_service
from shera.store import releases
from shera.store.db import Database
from shera.store.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["apps"])
PAIR = "/apps/{app}/environments/{env}"
_build_lock = threading.Lock()


class EndpointPublic(BaseModel):
    host: str
    port: int
    instance: str | None = None
    node: str | None = None
    ready: bool = True
    url: str


class AppPublic(BaseModel):
    app: str
    environment: str
    revision: int
    status: str
    health: str
    image: str
    digest: str | None
    sha: str | None
    target: str
    commit: str | None
    endpoints: list[EndpointPublic]
    updated_at: Timestamp


class AppsPublic(BaseModel):
    data: list[AppPublic]
    count: int


class ReleasePublic(BaseModel):
    revision: int
    status: str
    reason: str | None
    image: str
    digest: str | None
    sha: str | None
    run_id: str | None
    target: str
    replicas: int
    commit: str | None
    rollback_of: int | None
    forced: bool
    endpoints: list[EndpointPublic]
    created_at: Timestamp
    finished_at: Timestamp | None


class ReleasesPublic(BaseModel):
    data: list[ReleasePublic]
    count: int


class RollbackRequest(Strict):
    revision: int | None = Field(default=None, ge=1, description="Default: the release before the live one.")


class ScaleRequest(Strict):
    replicas: int = Field(ge=0, le=1000)


class OutcomePublic(BaseModel):
    status: Literal["live", "failed", "rolled_back", "skipped"]
    message: str
    release: ReleasePublic | None


class DiffPublic(BaseModel):
    in_sync: bool
    lines: list[str]


def deploy_service(request: Request, settings: Settings, db: Database) -> DeployService:
    """The app's deploy service, built once."""
    service: DeployService | None = getattr(request.app.state, "deploy_service", None)
    if service is None:
        with _build_lock:
            service = getattr(request.app.state, "deploy_service", None)
            if service is None:
                service = open_service(settings, db)
                request.app.state.deploy_service = service
    return service


def _owned(db: Database, tenant_id: str, app: str, env: str) -> ReleaseRecord:
    latest = releases.latest_release(db, tenant_id, app, env)
    if latest is None:
        raise NotFound("app or environment not found")
    return latest


def _endpoints(items: list[dict[str, Any]]) -> list[EndpointPublic]:
    return [
        EndpointPublic(
            host=str(e["host"]),
            port=int(e["port"]),
            instance=e.get("instance"),
            node=e.get("node"),
            ready=bool(e.get("ready", True)),
            url=f"http://{e['host']}:{e['port']}",
        )
        for e in items
    ]


def release_public(record: ReleaseRecord) -> ReleasePublic:
    return ReleasePublic(
        revision=record.revision,
        status=record.status,
        reason=record.reason,
        image=record.image,
        digest=record.digest,
        sha=record.sha,
        run_id=record.run_id,
        target=record.target,
        replicas=record.replicas,
        commit=record.deploy_commit,
        rollback_of=record.rollback_of,
        forced=record.forced,
        endpoints=_endpoints(record.endpoints),
        created_at=record.created_at,
        finished_at=record.finished_at,
    )


def outcome_public(outcome: DeployOutcome) -> OutcomePublic:
    release = outcome.restored or outcome.release
    return OutcomePublic(
        status=outcome.status, message=outcome.message, release=release_public(release) if release else None
    )


@router.get("/apps")
def list_apps(request: Request, db: DbDep, settings: SettingsDep, principal: ViewerDep) -> AppsPublic:
    """What runs where: per app and environment, the live release (else the newest) with its health."""
    service = deploy_service(request, settings, db)
    data = [
        AppPublic(
            app=r.app,
            environment=r.environment,
            revision=r.revision,
            status=r.status,
            health=service.health(r),
            image=r.image,
            digest=r.digest,
            sha=r.sha,
            target=r.target,
            commit=r.deploy_commit,
            endpoints=_endpoints(r.endpoints),
            updated_at=r.finished_at or r.created_at,
        )
        for r in releases.current_releases(db, principal.tenant_id)
    ]
    return AppsPublic(data=data, count=len(data))


@router.get(PAIR + "/releases")
def list_releases(
    app: str,
    env: str,
    db: DbDep,
    principal: ViewerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ReleasesPublic:
    """The releases of the app in the environment, newest first."""
    _owned(db, principal.tenant_id, app, env)
    records = releases.list_releases(db, principal.tenant_id, app, env, limit=limit, offset=offset)
    data = [release_public(r) for r in records]
    return ReleasesPublic(data=data, count=len(data))


@router.post(PAIR + "/rollback")
def rollback(
    app: str,
    env: str,
    body: RollbackRequest,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: DeveloperDep,
) -> OutcomePublic:
    """Serve ``revision`` again (default: the release before the live one), as a new release."""
    _owned(db, principal.tenant_id, app, env)
    service = deploy_service(request, settings, db)
    return outcome_public(service.rollback(principal.tenant_id, app, env, to=body.revision))


@router.post(PAIR + "/scale")
def scale(
    app: str,
    env: str,
    body: ScaleRequest,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: DeveloperDep,
) -> ReleasePublic:
    """Run ``replicas`` instances of the live release."""
    _owned(db, principal.tenant_id, app, env)
    service = deploy_service(request, settings, db)
    return release_public(service.scale(principal.tenant_id, app, env, body.replicas))


@router.get(PAIR + "/diff")
def diff(
    app: str, env: str, request: Request, db: DbDep, settings: SettingsDep, principal: ViewerDep
) -> DiffPublic:
    """Drift between the deploy repository and the live state."""
    _owned(db, principal.tenant_id, app, env)
    lines = deploy_service(request, settings, db).diff(principal.tenant_id, app, env)
    return DiffPublic(in_sync=not lines, lines=lines)


@router.delete(PAIR, status_code=status.HTTP_204_NO_CONTENT)
def delete_app(
    app: str, env: str, request: Request, db: DbDep, settings: SettingsDep, principal: MaintainerDep
) -> Response:
    """Remove the app from the environment (its release history stays)."""
    _owned(db, principal.tenant_id, app, env)
    deploy_service(request, settings, db).delete(principal.tenant_id, app, env)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
