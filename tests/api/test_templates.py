"""``GET /api/v1/templates``: the template catalog over the API (any authenticated caller)."""

from __future__ import annotations

from pathlib import Path

from shera.api.routes.templates import catalog
from shera.steps.templates import TemplateCatalog
from tests.api.conftest import Api, Tenant


def test_lists_the_four_templates_with_description_and_files(api: Api, acme: Tenant) -> None:
    response = api.client.get("/api/v1/templates", headers=acme.auth("viewer"))
    assert response.status_code == 200
    body = response.json()
    assert [item["name"] for item in body] == ["java-war", "node-web", "python-web", "static-site"]
    python_web = body[2]
    assert "WSGI" in python_web["description"]
    assert {"Containerfile", ".shera.yml", "README.md", "app/wsgi.py"} <= set(python_web["files"])
    assert all(item["description"] and "Containerfile" in item["files"] for item in body)


def test_one_template_and_404_for_an_unknown_name(api: Api, acme: Tenant) -> None:
    found = api.client.get("/api/v1/templates/static-site", headers=acme.auth("viewer"))
    assert found.status_code == 200
    assert "public/index.html" in found.json()["files"]
    missing = api.client.get("/api/v1/templates/nope", headers=acme.auth("viewer"))
    assert missing.status_code == 404
    assert "unknown template 'nope'" in missing.json()["detail"]


def test_needs_a_token(api: Api) -> None:
    assert api.client.get("/api/v1/templates").status_code == 401


def test_the_catalog_root_is_a_dependency(api: Api, acme: Tenant, tmp_path: Path) -> None:
    folder = tmp_path / "only"
    folder.mkdir()
    files = {"Containerfile": "FROM x\n", ".shera.yml": "steps: {}\n", "README.md": "# o\n\nOne.\n"}
    for name, text in files.items():
        (folder / name).write_text(text)
    api.client.app.dependency_overrides[catalog] = lambda: TemplateCatalog(tmp_path)  # type: ignore[attr-defined]
    response = api.client.get("/api/v1/templates", headers=acme.auth("viewer"))
    assert response.json() == [
        {"name": "only", "description": "One.", "files": [".shera.yml", "Containerfile", "README.md"]}
    ]
