"""Roles, generated from the OpenAPI schema: a viewer reads every tenant route and writes none."""

from __future__ import annotations

from tests.api.conftest import Api, Tenant
from tests.api.openapi_cases import BODIES, NOT_TENANT_SCOPED, body_schema, fill

ADMIN_ONLY_READS = {"/api/v1/tenants", "/api/v1/tenants/{tenant_id}/tokens"}


def test_viewer_reads_but_never_writes(api: Api, acme: Tenant, world: dict[str, str]) -> None:
    paths = api.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    checked = 0
    for path, operations in paths.items():
        if not path.startswith("/api/v1/") or path in NOT_TENANT_SCOPED:
            continue
        for method, operation in operations.items():
            schema = body_schema(operation)
            assert schema is None or schema in BODIES, f"{method} {path}: add a sample {schema} body"
            body = BODIES.get(schema) if schema else None
            response = api.client.request(
                method.upper(), fill(path, world), json=body, headers=acme.auth("viewer")
            )
            expected = 403 if method != "get" or path in ADMIN_ONLY_READS else 200
            assert response.status_code == expected, (
                f"viewer {method.upper()} {path} → {response.status_code}"
            )
            checked += 1
    assert checked >= 20
