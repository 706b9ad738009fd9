"""Tenant isolation, generated from the OpenAPI schema: every route taking an object id answers 404 to
another tenant, with the same body as for an id that does not exist — new routes are covered automatically.

Each path parameter must be known to ``OBJECTS`` (which of tenant A's objects to use, from the ``world``
fixture) and each request body schema must have a sample in ``BODIES`` (a valid body, so validation cannot
answer before the tenant check); otherwise the test fails and names what to add.
"""

from __future__ import annotations

from tests.api.conftest import Api, Tenant
from tests.api.openapi_cases import BODIES, MISSING, OBJECTS, fill, tenant_scoped_cases


def test_every_route_with_an_id_hides_other_tenants_objects(
    api: Api, acme: Tenant, globex: Tenant, world: dict[str, str]
) -> None:
    cases = tenant_scoped_cases(api.client.app.openapi()["paths"])  # type: ignore[attr-defined]
    assert len(cases) >= 15, cases  # the generator found the routes
    for method, path, schema in cases:
        assert schema is None or schema in BODIES, f"{method} {path}: add a sample {schema} body to BODIES"
        body = BODIES.get(schema) if schema else None
        for param in (p.strip("{}") for p in path.split("/") if p.startswith("{")):
            assert param in OBJECTS, f"{method} {path}: path parameter {param!r} is not covered"

        theirs = api.client.request(method, fill(path, world), json=body, headers=globex.auth("admin"))
        missing = api.client.request(
            method, fill(path, {**world, **MISSING}), json=body, headers=globex.auth("admin")
        )

        assert theirs.status_code == 404, f"{method} {path} → {theirs.status_code} {theirs.text}"
        assert theirs.json() == missing.json(), f"{method} {path}: body differs from a missing object's"

    # Nothing of tenant A was changed by all this.
    assert (
        api.client.get(f"/api/v1/projects/{world['project_id']}", headers=acme.auth()).json()[
            "default_branch"
        ]
        == "main"
    )
    assert (
        api.client.get(f"/api/v1/runs/{world['run_id']}", headers=acme.auth()).json()["status"]
        == "pending_approval"
    )
    assert (
        api.client.get(f"/api/v1/projects/{world['project_id']}/secrets", headers=acme.auth()).json()["count"]
        == 1
    )
    assert api.client.get("/api/v1/projects", headers=acme.auth("viewer")).status_code == 200
