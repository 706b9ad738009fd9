"""API tests: cases generated from the OpenAPI schema (isolation and roles), and how to fill them in."""

from __future__ import annotations

from typing import Any

SHA = "c" * 40

# Routes authenticated by something other than a tenant token, with the reason.
NOT_TENANT_SCOPED = {
    "/hooks/{forge}/{project_id}": "authenticated by the project's webhook signature, tested in test_hooks",
    "/api/v1/templates/{name}": "the template catalog is the same for every tenant, tested in test_templates",
    "/api/v1/balancer/{zone}/config": "platform admins only (all tenants' sites), tested in test_exposures",
}

BODIES: dict[str, dict[str, Any]] = {
    "TokenCreate": {"name": "x", "role": "viewer"},
    "ProjectUpdate": {"default_branch": "dev"},
    "SecretPut": {"value": "v"},
    "RunCreate": {"sha": SHA},
    "TenantCreate": {"name": "initech"},
    "ProjectCreate": {"name": "n", "forge": "github", "clone_url": "https://x.test/a.git"},
    "RetentionPut": {"keep_per_branch": 3},
    "RollbackRequest": {"revision": 1},
    "ScaleRequest": {"replicas": 2},
}


def body_schema(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    return str(content["schema"]["$ref"]).rsplit("/", 1)[-1]


def tenant_scoped_cases(paths: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(method, path, body schema name) of every OpenAPI operation on a path that names a tenant's object."""
    cases = []
    for path, operations in paths.items():
        if "{" not in path or path in NOT_TENANT_SCOPED:
            continue
        for method, operation in operations.items():
            cases.append((method.upper(), path, body_schema(operation)))
    return cases


OBJECTS = ("tenant_id", "project_id", "run_id", "token_id", "name", "repo", "app", "env")
MISSING = {
    "tenant_id": "f" * 32,
    "project_id": "f" * 32,
    "run_id": "f" * 32,
    "token_id": "f" * 32,
    "repo": "no/such-repository",
    "app": "no-such-app",
    "env": "no-such-env",
}


def fill(path: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    assert "{" not in path, (
        f"path parameter of {path} is not covered: add it to OBJECTS and the world fixture"
    )
    return path
