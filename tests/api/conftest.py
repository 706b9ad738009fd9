"""API test fixtures: a migrated SQLite database per test, the app, and tenants with tokens of every role."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.exceptions import StarletteDeprecationWarning

from shera.api.app import create_app
from shera.forges.base import FORGES
from shera.forges.gitea import Gitea
from shera.forges.github import GitHub
from shera.forges.gitlab import GitLab
from shera.forges.gogs import Gogs
from shera.plugins import EXECUTORS, Registry
from shera.settings import Settings
from shera.store import images, projects, releases, runs
from shera.store.db import Database
from shera.store.runs import NewRun
from tests.deploy.fake import fake_service
from tests.support.database import sqlite_database

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package for its test client and warns when it falls back to httpx
    # (installed here); the client works the same. Installing httpx2 would make this unnecessary.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

BOOTSTRAP = "bootstrap-secret-for-tests"
HS_SECRET = "portal-hs256-secret-of-at-least-32-bytes!"
WORLD_SHA = "c" * 40
ROLES = ("admin", "maintainer", "developer", "viewer")


@dataclass(frozen=True)
class RsaKeys:
    private_pem: bytes
    public_pem: str


def _rsa() -> RsaKeys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return RsaKeys(private, public.decode())


@pytest.fixture(scope="session")
def rsa_keys() -> RsaKeys:
    return _rsa()


@pytest.fixture(scope="session")
def other_rsa_keys() -> RsaKeys:
    return _rsa()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test (migrating each time would be slow)."""
    directory = tmp_path_factory.mktemp("template")
    sqlite_database(directory).dispose()
    return directory / "shera.db"


@pytest.fixture
def db(tmp_path: Path, migrated_template: Path) -> Iterator[Database]:
    path = tmp_path / "shera.db"
    shutil.copy(migrated_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


def forge_registry() -> Registry:
    """The entry-point registry, with the built-in forges added by hand when they are not installed."""
    registry = Registry.from_entry_points((FORGES, EXECUTORS))
    for forge in (GitHub, GitLab, Gitea, Gogs):
        if forge.name not in registry.names(FORGES):
            registry.register(FORGES, forge.name, forge())
    return registry


def make_settings(tmp_path: Path, rsa_public: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "bootstrap_token": BOOTSTRAP,
        "jwt_hs256_secret": HS_SECRET,
        "jwt_rs256_public_key": rsa_public,
        "git_schemes": "https,ssh,file",
        "public_url": "http://shera.test:8080/",
        "webhook_max_bytes": 64 * 1024,
        "default_executor": "podman",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Tenant:
    id: str
    name: str
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class Api:
    """One app under test: its client, database and settings, and helpers to set up tenants."""

    client: TestClient
    db: Database
    settings: Settings

    @property
    def root(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {BOOTSTRAP}"}

    def tenant(self, name: str) -> Tenant:
        """A tenant created through the API, with one token per role."""
        response = self.client.post("/api/v1/tenants", json={"name": name}, headers=self.root)
        assert response.status_code == 201, response.text
        tenant = Tenant(response.json()["id"], name)
        for role in ROLES:
            created = self.client.post(
                f"/api/v1/tenants/{tenant.id}/tokens", json={"name": role, "role": role}, headers=self.root
            )
            assert created.status_code == 201, created.text
            tenant.tokens[role] = created.json()["token"]
        return tenant

    def project(self, tenant: Tenant, name: str = "app", **fields: Any) -> dict[str, Any]:
        body = {"name": name, "forge": "github", "clone_url": "https://git.example.test/a/app.git", **fields}
        response = self.client.post("/api/v1/projects", json=body, headers=tenant.auth("admin"))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture
def make_api(tmp_path: Path, db: Database, rsa_keys: RsaKeys) -> Iterator[Any]:
    """``make_api(**settings)`` → a started ``Api`` (lifespan run: the bootstrap token exists)."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> Api:
        settings = make_settings(tmp_path, rsa_keys.public_pem, **overrides)
        app = create_app(settings, db, registry=forge_registry(), log_poll_seconds=0.02)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return Api(client, db, settings)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Any) -> Api:
    made: Api = make_api()
    return made


@pytest.fixture
def acme(api: Api) -> Tenant:
    return api.tenant("acme")


@pytest.fixture
def globex(api: Api) -> Tenant:
    return api.tenant("globex")


@pytest.fixture
def world(api: Api, acme: Tenant, globex: Tenant) -> dict[str, str]:
    """Tenant A's objects, one of each kind a path can name."""
    project_id = api.project(acme)["id"]
    put = api.client.put(
        f"/api/v1/projects/{project_id}/secrets/token", json={"value": "v"}, headers=acme.auth()
    )
    assert put.status_code == 201
    record = projects.get_project(api.db, project_id, acme.id)
    assert record is not None
    run = runs.insert_run(
        api.db, record, NewRun(event="push", ref="refs/heads/main", branch="main", sha=WORLD_SHA)
    )
    assert runs.transition(api.db, run.id, "pending_approval", ("queued",))
    tokens = api.client.get(f"/api/v1/tenants/{acme.id}/tokens", headers=acme.auth()).json()["data"]
    image = images.record_image(
        api.db, tenant_id=acme.id, project_id=project_id, registry_host="registry.test",
        repository="acme/app", tag="v1", digest="sha256:" + "a" * 64, size=1, run_id=run.id,
        step="image", sha=WORLD_SHA, branch="main",
    )  # fmt: skip
    new = releases.NewRelease(acme.id, "web", "production", "fake", "r/web:1")
    release = releases.create_release(api.db, new)
    releases.update_release(api.db, release.id, status="live")
    api.client.app.state.deploy_service = fake_service(api.db, api.settings.data_dir)[0]  # type: ignore[attr-defined]
    return {
        "tenant_id": acme.id,
        "project_id": project_id,
        "run_id": run.id,
        "token_id": tokens[0]["id"],
        "name": "token",
        "repo": image.repository,
        "app": "web",
        "env": "production",
    }
