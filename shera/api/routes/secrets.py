"""API layer: project secrets, write-only — values go in, only names and events ever come out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from shera.api import present
from shera.api.deps import DbDep, MaintainerDep, ViewerDep
from shera.api.schemas import SecretPublic, SecretPut, SecretsPublic
from shera.store import secrets

router = APIRouter(prefix="/api/v1/projects/{project_id}/secrets", tags=["secrets"])

SecretNamePath = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]


@router.put("/{name}", responses={201: {"model": SecretPublic}})
def put_secret(
    project_id: str,
    name: SecretNamePath,
    body: SecretPut,
    db: DbDep,
    principal: MaintainerDep,
    response: Response,
) -> SecretPublic:
    """Create (201) or replace (200) a secret; runs of the listed events receive it (none listed: all)."""
    info, created = secrets.put_secret(
        db, project_id, principal.tenant_id, name, body.value, [str(e) for e in body.events]
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return present.secret(info)


@router.get("")
def list_secrets(project_id: str, db: DbDep, principal: ViewerDep) -> SecretsPublic:
    """Names and events of the project's secrets (never values)."""
    data = [present.secret(info) for info in secrets.list_secrets(db, project_id, principal.tenant_id)]
    return SecretsPublic(data=data, count=len(data))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_secret(project_id: str, name: str, db: DbDep, principal: MaintainerDep) -> Response:
    secrets.delete_secret(db, project_id, principal.tenant_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
