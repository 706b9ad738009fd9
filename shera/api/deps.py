"""API layer: FastAPI dependencies as ``Annotated`` aliases — the database, settings, caller and role checks.

Role checks raise 403 only for what the caller's *own* role forbids; whether an object exists in another
tenant is never revealed (the routes answer 404 for that). Platform-admin tokens belong to no tenant:
they manage tenants and tenant tokens, and get 403 on tenant-scoped routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shera.api.auth import Authenticator, Unauthorized
from shera.model.records import Principal, Role
from shera.settings import Settings
from shera.store.db import Database


@dataclass(frozen=True, slots=True)
class TenantPrincipal:
    """A caller that belongs to a tenant (``tenant_id`` is a ``str``, never ``None``)."""

    subject: str
    role: Role
    tenant_id: str


_bearer = HTTPBearer(auto_error=False, description="A She-Ra token (`shera_…`) or a portal-issued JWT")


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller; 401 with ``WWW-Authenticate: Bearer`` otherwise."""
    authenticator: Authenticator = request.app.state.authenticator
    try:
        return await run_in_threadpool(
            authenticator.authenticate, credentials.credentials if credentials else None
        )
    except Unauthorized as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_platform_admin(principal: PrincipalDep) -> Principal:
    if not principal.platform_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs a platform-admin token")
    return principal


def require(role: Role) -> Callable[[Principal], TenantPrincipal]:
    """A dependency admitting tenant callers whose role is at least ``role``."""

    def check(principal: PrincipalDep) -> TenantPrincipal:
        if principal.tenant_id is None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "platform-admin tokens manage tenants; use a token of the tenant for this",
            )
        if not principal.role.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role.value} role or higher")
        return TenantPrincipal(principal.subject, principal.role, principal.tenant_id)

    return check


PlatformAdminDep = Annotated[Principal, Depends(require_platform_admin)]
ViewerDep = Annotated[TenantPrincipal, Depends(require(Role.VIEWER))]
DeveloperDep = Annotated[TenantPrincipal, Depends(require(Role.DEVELOPER))]
MaintainerDep = Annotated[TenantPrincipal, Depends(require(Role.MAINTAINER))]
AdminDep = Annotated[TenantPrincipal, Depends(require(Role.ADMIN))]
