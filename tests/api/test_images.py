"""Image center API: repositories and tags of the caller's tenant only, retention policies, and pruning
against a real private registry."""

from __future__ import annotations

from typing import Any

import httpx

from shera.store import images
from tests.api.conftest import Api, Tenant
from tests.support.oci import Pushed, push_image
from tests.support.registry import registry

__all__ = ["registry"]  # fixture used below

HOST = "registry.test:5000"


def record(
    api: Api, tenant: Tenant, project_id: str | None, repository: str, tag: str, **fields: Any
) -> None:
    values: dict[str, Any] = {
        "registry_host": HOST,
        "digest": "sha256:" + "1" * 64,
        "size": 2048,
        "run_id": "run-1",
        "step": "image",
        "sha": "c" * 40,
        "branch": "main",
        **fields,
    }
    images.record_image(
        api.db, tenant_id=tenant.id, project_id=project_id, repository=repository, tag=tag, **values
    )


def test_images_and_tags_are_the_callers_tenants_only(api: Api, acme: Tenant, globex: Tenant) -> None:
    project = api.project(acme)["id"]
    record(api, acme, project, "acme/app", "v1")
    record(api, acme, project, "acme/app", "v2", digest="sha256:" + "2" * 64, branch="dev", sha="d" * 40)
    record(api, acme, project, "acme/worker", "v1")
    record(api, globex, None, "globex/billing", "v1")

    listed = api.client.get("/api/v1/images", headers=acme.auth("viewer"))
    searched = api.client.get("/api/v1/images", params={"q": "WORK"}, headers=acme.auth("viewer"))
    tags = api.client.get("/api/v1/images/acme/app/tags", headers=acme.auth("viewer"))
    theirs = api.client.get("/api/v1/images/acme/app/tags", headers=globex.auth("admin"))
    missing = api.client.get("/api/v1/images/acme/nothing/tags", headers=globex.auth("admin"))

    assert listed.status_code == 200 and listed.json()["count"] == 2
    assert [r["repository"] for r in listed.json()["data"]] == ["acme/app", "acme/worker"]
    assert listed.json()["data"][0] | {"last_pushed_at": None} == {
        "repository": "acme/app",
        "registry_host": HOST,
        "project_id": project,
        "tags": 2,
        "last_pushed_at": None,
    }
    assert [r["repository"] for r in searched.json()["data"]] == ["acme/worker"]
    assert [
        r["repository"] for r in api.client.get("/api/v1/images", headers=globex.auth()).json()["data"]
    ] == ["globex/billing"]
    newest = tags.json()["data"][0]
    assert tags.json()["count"] == 2 and tags.json()["repository"] == "acme/app"
    assert newest | {"created": None} == {
        "tag": "v2",
        "ref": f"{HOST}/acme/app:v2",
        "digest": "sha256:" + "2" * 64,
        "size": 2048,
        "created": None,
        "project_id": project,
        "run_id": "run-1",
        "step": "image",
        "sha": "d" * 40,
        "branch": "dev",
    }
    assert newest["created"].endswith("Z")
    assert theirs.status_code == 404 and theirs.json() == missing.json()
    assert api.client.get("/api/v1/images").status_code == 401


def test_retention_policy_routes(api: Api, acme: Tenant, globex: Tenant) -> None:
    project = api.project(acme)["id"]
    url = f"/api/v1/projects/{project}/retention"

    default = api.client.get(url, headers=acme.auth("viewer"))
    by_developer = api.client.put(url, json={"keep_per_branch": 2}, headers=acme.auth("developer"))
    zero = api.client.put(url, json={"keep_per_branch": 0}, headers=acme.auth("maintainer"))
    changed = api.client.put(url, json={"keep_per_branch": 2}, headers=acme.auth("maintainer"))

    assert default.json() == {
        "project_id": project,
        "keep_per_branch": images.DEFAULT_KEEP_PER_BRANCH,
        "is_default": True,
        "updated_at": None,
    }
    assert (by_developer.status_code, zero.status_code, changed.status_code) == (403, 422, 200)
    assert changed.json()["keep_per_branch"] == 2 and changed.json()["is_default"] is False
    assert api.client.get(url, headers=acme.auth("viewer")).json()["keep_per_branch"] == 2
    assert api.client.get(url, headers=globex.auth()).status_code == 404


def _build(
    api: Api, http: httpx.Client, host: str, tenant: Tenant, project: str, n: int, tags: list[str]
) -> Pushed:
    pushed = push_image(http, "acme/app", tags, payload=f"build {n}".encode())
    for tag in tags:
        record(
            api, tenant, project, "acme/app", tag, registry_host=host, digest=pushed.digest, sha=f"{n:040x}"
        )
    return pushed


def test_prune_deletes_from_the_registry_and_a_dry_run_does_not(make_api: Any, registry: str) -> None:
    api: Api = make_api(insecure_registries=registry)
    acme, globex = api.tenant("acme"), api.tenant("globex")
    project = api.project(acme)["id"]
    with httpx.Client(base_url=f"http://{registry}") as http:
        old = _build(api, http, registry, acme, project, 1, ["sha1"])
        _build(api, http, registry, acme, project, 2, ["sha2", "main"])
    api.client.put(f"/api/v1/projects/{project}/retention", json={"keep_per_branch": 1}, headers=acme.auth())
    url = f"/api/v1/projects/{project}/images/prune"

    preview = api.client.post(url, params={"dry_run": 1}, headers=acme.auth("maintainer"))
    tags_after_preview = httpx.get(f"http://{registry}/v2/acme/app/tags/list").json()["tags"]
    denied = api.client.post(url, headers=acme.auth("developer"))
    foreign = api.client.post(url, headers=globex.auth("admin"))
    pruned = api.client.post(url, headers=acme.auth("maintainer"))

    assert preview.status_code == 200, preview.text
    assert preview.json()["dry_run"] is True and [t["tag"] for t in preview.json()["removed"]] == ["sha1"]
    assert sorted(tags_after_preview) == ["main", "sha1", "sha2"]
    assert (denied.status_code, foreign.status_code) == (403, 404)
    assert pruned.json() == {
        "dry_run": False,
        "keep_per_branch": 1,
        "removed": [
            {
                "repository": "acme/app",
                "tag": "sha1",
                "digest": old.digest,
                "branch": "main",
                "sha": f"{1:040x}",
            }
        ],
        "deleted": [f"{registry}/acme/app@{old.digest}"],
        "errors": [],
    }
    assert sorted(httpx.get(f"http://{registry}/v2/acme/app/tags/list").json()["tags"]) == ["main", "sha2"]
    listed = api.client.get("/api/v1/images/acme/app/tags", headers=acme.auth()).json()["data"]
    assert sorted(t["tag"] for t in listed) == ["main", "sha2"]
