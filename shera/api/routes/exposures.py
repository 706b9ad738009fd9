"""API layer: exposures — what each tenant publishes through the balancers, and (admins) the rendered configs.

``GET /api/v1/exposures`` is tenant-scoped (viewer and up): the caller's exposures with the upstreams the
balancer routes them to now, the config version serving and how the last reload went.
``GET /api/v1/balancer/{zone}/config`` is for platform admins only: the config text serving in that zone
(all tenants' sites), its version and last result; 404 when nothing was ever applied there.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from shera.api.deps import DbDep, PlatformAdminDep, SettingsDep, ViewerDep
from shera.api.schemas import Timestamp
from shera.contrib.exposure.service import ExposureService, ExposureView
from shera.settings import Settings
from shera.steps.expose_runner import expose_settings, public_addresses
from shera.store import exposures as store
from shera.store.db import Database
from shera.store.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["exposures"])


class ExposurePublic(BaseModel):
    id: str
    app: str
    environment: str
    zone: str
    host: str
    path: str
    port: int | None
    tls: bool
    url: str
    upstreams: list[str]
    version: str | None
    last_result: str | None


class ExposuresPublic(BaseModel):
    data: list[ExposurePublic]
    count: int


class BalancerConfigPublic(BaseModel):
    zone: str
    kind: str
    version: str | None
    last_result: str | None
    last_reload_at: Timestamp | None
    config: str


def exposure_service(settings: Settings, db: Database) -> ExposureService:
    """The service with the domain and public addresses of the settings (see ``expose_runner``)."""
    domain, _listen = expose_settings(settings)
    return ExposureService(db, domain=domain, addresses=public_addresses(settings))


def _public(view: ExposureView) -> ExposurePublic:
    return ExposurePublic(**view.as_dict())


@router.get("/exposures", response_model=ExposuresPublic)
async def list_exposures(
    principal: ViewerDep,
    db: DbDep,
    settings: SettingsDep,
    zone: str | None = Query(default=None, pattern=r"^(public|internal)$"),
) -> ExposuresPublic:
    service = exposure_service(settings, db)
    views = await run_in_threadpool(service.list, principal.tenant_id, zone=zone)
    return ExposuresPublic(data=[_public(v) for v in views], count=len(views))


@router.get("/balancer/{zone}/config", response_model=list[BalancerConfigPublic])
async def balancer_config(zone: str, _admin: PlatformAdminDep, db: DbDep) -> list[BalancerConfigPublic]:
    states = await run_in_threadpool(store.balancer_states, db, zone)
    found = [
        BalancerConfigPublic(
            zone=s.zone,
            kind=s.kind,
            version=s.version,
            last_result=s.last_result,
            last_reload_at=s.last_reload_at,
            config=s.config,
        )
        for s in states
        if s.config is not None
    ]
    if not found:
        raise NotFound(f"no balancer config was applied in zone {zone!r}")
    return found
