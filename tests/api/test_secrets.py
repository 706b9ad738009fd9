"""Project secrets are write-only through the API; the worker reads them per event."""

from __future__ import annotations

from shera.store.secrets import secrets_for
from tests.api.conftest import Api, Tenant

VALUE = "s3cr3t-value-never-shown"


def test_secrets_are_write_only(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    url = f"/api/v1/projects/{project['id']}/secrets"

    created = api.client.put(
        f"{url}/deploy_key", json={"value": VALUE, "events": ["push"]}, headers=acme.auth("maintainer")
    )
    replaced = api.client.put(
        f"{url}/deploy_key", json={"value": VALUE + "2"}, headers=acme.auth("maintainer")
    )
    listed = api.client.get(url, headers=acme.auth("viewer"))

    assert created.status_code == 201 and replaced.status_code == 200
    assert created.json()["events"] == ["push"] and replaced.json()["events"] == []
    assert listed.json()["data"][0]["name"] == "deploy_key" and listed.json()["count"] == 1
    for response in (created, replaced, listed):
        assert VALUE not in response.text
    assert [s.value for s in secrets_for(api.db, project["id"], "push")] == [VALUE + "2"]


def test_secret_events_limit_who_receives_them(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    url = f"/api/v1/projects/{project['id']}/secrets"
    api.client.put(f"{url}/push_only", json={"value": "a", "events": ["push", "tag"]}, headers=acme.auth())
    api.client.put(f"{url}/everywhere", json={"value": "b"}, headers=acme.auth())
    assert {s.name for s in secrets_for(api.db, project["id"], "push")} == {"push_only", "everywhere"}
    assert {s.name for s in secrets_for(api.db, project["id"], "pull_request")} == {"everywhere"}


def test_secret_input_is_validated(api: Api, acme: Tenant) -> None:
    url = f"/api/v1/projects/{api.project(acme)['id']}/secrets"
    assert (
        api.client.put(
            f"{url}/ok", json={"value": "x", "events": ["pushed"]}, headers=acme.auth()
        ).status_code
        == 422
    )
    assert api.client.put(f"{url}/bad name", json={"value": "x"}, headers=acme.auth()).status_code == 422
    assert api.client.put(f"{url}/ok", json={"value": ""}, headers=acme.auth()).status_code == 422


def test_secret_roles_and_delete(api: Api, acme: Tenant) -> None:
    url = f"/api/v1/projects/{api.project(acme)['id']}/secrets"
    assert api.client.put(f"{url}/k", json={"value": "x"}, headers=acme.auth("developer")).status_code == 403
    assert api.client.put(f"{url}/k", json={"value": "x"}, headers=acme.auth("maintainer")).status_code == 201
    assert api.client.delete(f"{url}/k", headers=acme.auth("viewer")).status_code == 403
    assert api.client.delete(f"{url}/k", headers=acme.auth("maintainer")).status_code == 204
    assert api.client.delete(f"{url}/k", headers=acme.auth("maintainer")).status_code == 404
    assert api.client.get(url, headers=acme.auth()).json()["count"] == 0
