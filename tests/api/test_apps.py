"""API: apps — the what-runs-where matrix, release history, rollback, scale, diff and delete, with the deploy
service over an in-memory target (tests/deploy/fake.py), a real deploy repository and the real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from shera.deploy.base import DeploySpec
from shera.deploy.service import DeployRequest, DeployService
from tests.api.conftest import Api, Tenant
from tests.deploy.fake import FakeTarget, fake_service

RELEASES = "/api/v1/apps/web/environments/production/releases"
PAIR = "/api/v1/apps/web/environments/production"


@pytest.fixture
def made(api: Api, tmp_path: Path) -> tuple[DeployService, FakeTarget]:
    made = fake_service(api.db, tmp_path)
    api.client.app.state.deploy_service = made[0]  # type: ignore[attr-defined]
    return made


@pytest.fixture
def service(made: tuple[DeployService, FakeTarget]) -> DeployService:
    return made[0]


@pytest.fixture
def target(made: tuple[DeployService, FakeTarget]) -> FakeTarget:
    return made[1]


def deploy(service: DeployService, tenant: Tenant, version: str, app: str = "web") -> None:
    spec = DeploySpec(
        tenant=tenant.id,
        app=app,
        environment="production",
        revision=0,
        image=f"r/{app}:{version}",
        digest="sha256:" + version * 64,
        sha=version * 40,
        ports=(8000,),
    )
    service.deploy(DeployRequest(spec=spec, target="fake"))


def test_apps_lists_what_runs_where(api: Api, acme: Tenant, globex: Tenant, service: DeployService) -> None:
    deploy(service, acme, "1")
    deploy(service, acme, "2")
    deploy(service, acme, "3", app="api")
    deploy(service, globex, "9", app="theirs")

    body = api.client.get("/api/v1/apps", headers=acme.auth("viewer")).json()

    assert body["count"] == 2
    rows = {row["app"]: row for row in body["data"]}
    web = rows["web"]
    assert (web["environment"], web["revision"], web["status"], web["health"]) == (
        "production",
        2,
        "live",
        "healthy",
    )
    assert web["sha"] == "2" * 40 and web["digest"] == "sha256:" + "2" * 64
    assert web["endpoints"][0]["url"] == "http://127.0.0.1:40020"
    assert web["commit"] and web["updated_at"].endswith("Z")


def test_history_newest_first_with_commits(api: Api, acme: Tenant, service: DeployService) -> None:
    for version in "123":
        deploy(service, acme, version)

    body = api.client.get(RELEASES, headers=acme.auth("viewer"), params={"limit": 2}).json()

    assert [r["revision"] for r in body["data"]] == [3, 2]
    assert [r["status"] for r in body["data"]] == ["live", "superseded"]
    assert all(len(r["commit"]) == 40 for r in body["data"])


def test_rollback_scale_diff_delete(
    api: Api, acme: Tenant, service: DeployService, target: FakeTarget
) -> None:
    deploy(service, acme, "1")
    deploy(service, acme, "2")

    rolled = api.client.post(f"{PAIR}/rollback", json={"revision": 1}, headers=acme.auth("developer"))
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["status"] == "live"
    assert (rolled.json()["release"]["revision"], rolled.json()["release"]["rollback_of"]) == (3, 1)

    scaled = api.client.post(f"{PAIR}/scale", json={"replicas": 3}, headers=acme.auth("developer"))
    assert scaled.status_code == 200 and scaled.json()["replicas"] == 3

    assert api.client.get(f"{PAIR}/diff", headers=acme.auth("viewer")).json() == {
        "in_sync": True,
        "lines": [],
    }
    target.objects[(acme.id, "web", "production")].pop("Service/web")
    drift = api.client.get(f"{PAIR}/diff", headers=acme.auth("viewer")).json()
    assert drift["in_sync"] is False and drift["lines"]

    assert api.client.delete(PAIR, headers=acme.auth("developer")).status_code == 403
    assert api.client.delete(PAIR, headers=acme.auth("maintainer")).status_code == 204
    assert api.client.get("/api/v1/apps", headers=acme.auth()).json()["count"] == 0
    assert api.client.get(RELEASES, headers=acme.auth()).json()["count"] == 3  # history stays


def test_bad_requests_are_refused(api: Api, acme: Tenant, service: DeployService) -> None:
    deploy(service, acme, "1")

    assert api.client.post(f"{PAIR}/scale", json={"replicas": -1}, headers=acme.auth()).status_code == 422
    assert api.client.post(f"{PAIR}/scale", json={"n": 1}, headers=acme.auth()).status_code == 422
    already = api.client.post(f"{PAIR}/rollback", json={"revision": 1}, headers=acme.auth())
    assert already.status_code == 409 and "already live" in already.json()["detail"]
    nothing = api.client.post(f"{PAIR}/rollback", json={}, headers=acme.auth())
    assert nothing.status_code == 409
    assert (
        api.client.post(f"{PAIR}/rollback", json={"revision": 1}, headers=acme.auth("viewer")).status_code
        == 403
    )


def test_another_tenants_app_is_not_found(
    api: Api, acme: Tenant, globex: Tenant, service: DeployService, target: FakeTarget
) -> None:
    deploy(service, acme, "1")
    deploy(service, acme, "2")
    calls = len(target.calls)

    for method, path, body in (
        ("GET", RELEASES, None),
        ("POST", f"{PAIR}/rollback", {"revision": 1}),
        ("POST", f"{PAIR}/scale", {"replicas": 5}),
        ("GET", f"{PAIR}/diff", None),
        ("DELETE", PAIR, None),
    ):
        response = api.client.request(method, path, json=body, headers=globex.auth("admin"))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"detail": "app or environment not found"}

    assert len(target.calls) == calls  # nothing reached the target
    assert api.client.get("/api/v1/apps", headers=globex.auth()).json()["count"] == 0
    live = api.client.get("/api/v1/apps", headers=acme.auth()).json()["data"][0]
    assert (live["revision"], live["status"]) == (2, "live")
