"""Health, metrics and the error contract (no tracebacks, store down → 503)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shera.api.app import create_app
from shera.store.db import Database
from tests.api.conftest import Api, Tenant, forge_registry, make_settings


def test_healthz_needs_no_auth(api: Api) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_metrics_are_per_app_and_use_route_templates(make_api: Any, acme: Tenant, api: Api) -> None:
    project = api.project(acme)
    api.client.get(f"/api/v1/projects/{project['id']}", headers=acme.auth())
    other = make_api()

    text = api.client.get("/metrics").text

    assert api.client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert 'route="/api/v1/projects/{project_id}",status="200"' in text
    assert project["id"] not in text
    assert "shera_http_request_duration_seconds_bucket" in text
    assert "/api/v1/projects/{project_id}" not in other.client.get("/metrics").text


def test_store_down_is_503_without_traceback(tmp_path: Any, rsa_keys: Any) -> None:
    dead = Database("postgresql://nobody@127.0.0.1:1/none")
    app = create_app(
        make_settings(tmp_path, rsa_keys.public_pem, bootstrap_token=None), dead, registry=forge_registry()
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        health = client.get("/healthz")
        webhook = client.post("/hooks/github/" + "0" * 32, content=b"{}")
    assert health.status_code == 503 and "unavailable" in health.json()["detail"]
    assert "Traceback" not in health.text
    assert webhook.status_code == 503
    dead.dispose()


def test_openapi_documents_the_contract(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in (
        "/healthz",
        "/hooks/{forge}/{project_id}",
        "/api/v1/tenants",
        "/api/v1/tenants/{tenant_id}/tokens",
        "/api/v1/projects",
        "/api/v1/projects/{project_id}",
        "/api/v1/projects/{project_id}/secrets/{name}",
        "/api/v1/projects/{project_id}/runs",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/logs",
        "/api/v1/runs/{run_id}/cancel",
        "/api/v1/runs/{run_id}/restart",
        "/api/v1/runs/{run_id}/approve",
        "/api/v1/runs/{run_id}/decline",
    ):
        assert path in paths
    assert api.client.get("/docs").status_code == 200
