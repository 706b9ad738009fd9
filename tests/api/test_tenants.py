"""Tenants and tenant tokens: who may create them, what a new token can do."""

from __future__ import annotations

from tests.api.conftest import BOOTSTRAP, Api, Tenant

ROOT = {"Authorization": f"Bearer {BOOTSTRAP}"}


def test_platform_admin_creates_tenants(api: Api) -> None:
    response = api.client.post("/api/v1/tenants", json={"name": "acme"}, headers=ROOT)
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "acme" and len(body["id"]) == 32
    assert api.client.post("/api/v1/tenants", json={"name": "acme"}, headers=ROOT).status_code == 409
    assert [t["name"] for t in api.client.get("/api/v1/tenants", headers=ROOT).json()] == ["acme"]


def test_tenant_admin_cannot_create_tenants(api: Api, acme: Tenant) -> None:
    response = api.client.post("/api/v1/tenants", json={"name": "other"}, headers=acme.auth("admin"))
    assert response.status_code == 403


def test_tenant_name_is_validated(api: Api) -> None:
    for bad in ("", "-x", "a b", "x" * 64):
        assert api.client.post("/api/v1/tenants", json={"name": bad}, headers=ROOT).status_code == 422


def test_tenant_admin_mints_tokens_shown_once(api: Api, acme: Tenant) -> None:
    response = api.client.post(
        f"/api/v1/tenants/{acme.id}/tokens", json={"name": "ci", "role": "developer"}, headers=acme.auth()
    )
    assert response.status_code == 201
    created = response.json()
    assert created["token"].startswith("shera_") and created["role"] == "developer"
    listed = api.client.get(f"/api/v1/tenants/{acme.id}/tokens", headers=acme.auth()).json()
    assert created["token"] not in str(listed)
    mine = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/api/v1/projects", headers=mine).status_code == 200


def test_only_admins_manage_tokens(api: Api, acme: Tenant) -> None:
    for role in ("maintainer", "developer", "viewer"):
        response = api.client.post(
            f"/api/v1/tenants/{acme.id}/tokens", json={"name": "x", "role": "admin"}, headers=acme.auth(role)
        )
        assert response.status_code == 403, role


def test_token_role_must_be_known(api: Api, acme: Tenant) -> None:
    response = api.client.post(
        f"/api/v1/tenants/{acme.id}/tokens", json={"name": "x", "role": "owner"}, headers=acme.auth()
    )
    assert response.status_code == 422


def test_tenant_is_visible_to_its_members_only(api: Api, acme: Tenant, globex: Tenant) -> None:
    assert api.client.get(f"/api/v1/tenants/{acme.id}", headers=acme.auth("viewer")).json()["name"] == "acme"
    assert api.client.get(f"/api/v1/tenants/{acme.id}", headers=globex.auth()).status_code == 404
    assert api.client.get("/api/v1/tenants/" + "0" * 32, headers=ROOT).status_code == 404


def test_revoking_an_unknown_token_is_404(api: Api, acme: Tenant) -> None:
    response = api.client.delete(f"/api/v1/tenants/{acme.id}/tokens/{'0' * 32}", headers=acme.auth())
    assert response.status_code == 404
