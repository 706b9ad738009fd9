"""Projects: registration (hook URL, secret shown once), validation, roles, update and delete."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, Tenant

BODY = {"name": "app", "forge": "github", "clone_url": "https://git.example.test/acme/app.git"}


def create(api: Api, tenant: Tenant, role: str = "maintainer", **fields: Any) -> Any:
    return api.client.post("/api/v1/projects", json={**BODY, **fields}, headers=tenant.auth(role))


def test_create_returns_secret_and_hook_url(api: Api, acme: Tenant) -> None:
    response = create(api, acme, default_branch="trunk")
    assert response.status_code == 201
    project = response.json()
    assert project["hook_url"] == f"http://shera.test:8080/hooks/github/{project['id']}"
    assert len(project["webhook_secret"]) >= 32
    assert project["default_branch"] == "trunk"
    assert project["executor"] == "podman" and project["trusted"] is False
    shown = api.client.get(f"/api/v1/projects/{project['id']}", headers=acme.auth("viewer")).json()
    assert "webhook_secret" not in shown
    assert shown["hook_url"] == project["hook_url"]


def test_forge_token_is_write_only(api: Api, acme: Tenant) -> None:
    project = create(api, acme, forge_token="ghp_topsecret").json()
    assert project["has_forge_token"] is True
    assert (
        "ghp_topsecret" not in api.client.get(f"/api/v1/projects/{project['id']}", headers=acme.auth()).text
    )


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "--upload-pack=touch /tmp/x",
        "ftp://example.test/repo.git",
        "http://example.test/repo.git",
        "https://example.test/re po.git",
    ],
)
def test_unsafe_or_disallowed_clone_urls_are_422(api: Api, acme: Tenant, url: str) -> None:
    response = create(api, acme, clone_url=url)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str | list)


def test_allowed_schemes_come_from_settings(make_api: Any) -> None:
    api = make_api(git_schemes="https")
    tenant = api.tenant("acme")
    assert create(api, tenant, clone_url="git@example.test:acme/app.git").status_code == 422
    assert create(api, tenant, name="b", clone_url="https://example.test/acme/app.git").status_code == 201


def test_unknown_forge_or_executor_is_422(api: Api, acme: Tenant) -> None:
    assert "unknown forge" in create(api, acme, forge="bitbucket").json()["detail"]
    assert "unknown executor" in create(api, acme, executor="docker").json()["detail"]


def test_trusted_and_local_need_admin(api: Api, acme: Tenant) -> None:
    assert create(api, acme, "maintainer", trusted=True).status_code == 403
    assert create(api, acme, "admin", executor="local").status_code == 422  # local needs trusted
    created = create(api, acme, "admin", executor="local", trusted=True)
    assert created.status_code == 201
    assert created.json()["executor"] == "local"


def test_developer_and_viewer_cannot_create(api: Api, acme: Tenant) -> None:
    assert create(api, acme, "developer").status_code == 403
    assert create(api, acme, "viewer").status_code == 403


def test_duplicate_name_in_tenant_is_409_but_other_tenants_may_reuse_it(
    api: Api, acme: Tenant, globex: Tenant
) -> None:
    assert create(api, acme).status_code == 201
    assert create(api, acme).status_code == 409
    assert create(api, globex).status_code == 201


def test_list_shows_the_callers_tenant_only(api: Api, acme: Tenant, globex: Tenant) -> None:
    create(api, acme, name="a1")
    create(api, acme, name="a2")
    create(api, globex, name="g1")
    listed = api.client.get("/api/v1/projects", headers=acme.auth("viewer")).json()
    assert [p["name"] for p in listed["data"]] == ["a1", "a2"] and listed["count"] == 2


def test_patch_changes_fields_with_the_same_rules(api: Api, acme: Tenant) -> None:
    project = create(api, acme).json()
    url = f"/api/v1/projects/{project['id']}"
    patched = api.client.patch(
        url, json={"default_branch": "dev", "cancel_superseded": False}, headers=acme.auth("maintainer")
    )
    assert patched.status_code == 200
    assert patched.json()["default_branch"] == "dev" and patched.json()["cancel_superseded"] is False
    assert api.client.patch(url, json={"clone_url": "ext::x"}, headers=acme.auth()).status_code == 422
    assert api.client.patch(url, json={"trusted": True}, headers=acme.auth("maintainer")).status_code == 403
    assert api.client.patch(url, json={"executor": "local"}, headers=acme.auth()).status_code == 422
    both = api.client.patch(url, json={"executor": "local", "trusted": True}, headers=acme.auth())
    assert both.status_code == 200 and both.json()["executor"] == "local"
    assert api.client.patch(url, json={"trusted": False}, headers=acme.auth()).status_code == 422
    assert api.client.patch(url, json={"bogus": 1}, headers=acme.auth()).status_code == 422
    assert api.client.patch(url, json={"name": "x"}, headers=acme.auth("viewer")).status_code == 403


def test_delete_needs_admin_and_removes_the_project(api: Api, acme: Tenant) -> None:
    project = create(api, acme).json()
    url = f"/api/v1/projects/{project['id']}"
    assert api.client.delete(url, headers=acme.auth("maintainer")).status_code == 403
    assert api.client.delete(url, headers=acme.auth()).status_code == 204
    assert api.client.get(url, headers=acme.auth()).status_code == 404
    assert api.client.delete(url, headers=acme.auth()).status_code == 404


def test_rotating_the_webhook_secret(api: Api, acme: Tenant) -> None:
    project = create(api, acme).json()
    rotated = api.client.post(
        f"/api/v1/projects/{project['id']}/webhook-secret", headers=acme.auth("maintainer")
    )
    assert rotated.status_code == 200
    assert rotated.json()["webhook_secret"] != project["webhook_secret"]
    assert rotated.json()["hook_url"] == project["hook_url"]
