"""API layer: tenants (platform admin) and their tokens (platform admin or the tenant's own admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from shera.api import present
from shera.api.auth import new_token
from shera.api.deps import DbDep, PlatformAdminDep, PrincipalDep
from shera.api.schemas import TenantCreate, TenantPublic, TokenCreate, TokenCreated, TokensPublic
from shera.model.records import Principal, Role, TenantRecord
from shera.store import tenants, tokens
from shera.store.db import Database
from shera.store.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["tenants"])


def _visible_tenant(db: Database, principal: Principal, tenant_id: str, *, admin: bool) -> TenantRecord:
    """The tenant if the caller may see it (404 otherwise); 403 when ``admin`` is needed and missing."""
    if not principal.platform_admin and principal.tenant_id != tenant_id:
        raise NotFound("tenant not found")
    record = tenants.get_tenant(db, tenant_id)
    if record is None:
        raise NotFound("tenant not found")
    if admin and not principal.platform_admin and not principal.role.allows(Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the admin role")
    return record


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
def create_tenant(body: TenantCreate, db: DbDep, _: PlatformAdminDep) -> TenantPublic:
    """Create a tenant (platform admin only); 409 when the name is taken."""
    return present.tenant(tenants.create_tenant(db, body.name))


@router.get("/tenants")
def list_tenants(db: DbDep, _: PlatformAdminDep) -> list[TenantPublic]:
    return [present.tenant(record) for record in tenants.list_tenants(db)]


@router.get("/tenants/{tenant_id}")
def get_tenant(tenant_id: str, db: DbDep, principal: PrincipalDep) -> TenantPublic:
    return present.tenant(_visible_tenant(db, principal, tenant_id, admin=False))


@router.post("/tenants/{tenant_id}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(tenant_id: str, body: TokenCreate, db: DbDep, principal: PrincipalDep) -> TokenCreated:
    """A new token of the tenant; the token itself is in this response only (only its digest is kept)."""
    _visible_tenant(db, principal, tenant_id, admin=True)
    secret = new_token()
    info = tokens.create_token(
        db, tenant_id=tenant_id, name=body.name, role=body.role, token_hash=tokens.hash_token(secret)
    )
    return TokenCreated(**present.token(info).model_dump(), token=secret)


@router.get("/tenants/{tenant_id}/tokens")
def list_tokens(tenant_id: str, db: DbDep, principal: PrincipalDep) -> TokensPublic:
    _visible_tenant(db, principal, tenant_id, admin=True)
    data = [present.token(info) for info in tokens.list_tokens(db, tenant_id)]
    return TokensPublic(data=data, count=len(data))


@router.delete("/tenants/{tenant_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(tenant_id: str, token_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Revoke a token: it stops working at once (idempotent)."""
    _visible_tenant(db, principal, tenant_id, admin=True)
    tokens.revoke_token(db, token_id, tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
