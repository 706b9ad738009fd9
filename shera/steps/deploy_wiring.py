"""Steps layer: builds the deploy service (database, deploy repository, targets) for runners, API and CLI.

The deploy layer may not import gitops, so the pieces meet here (the lowest layer that sees all of them).
- ``open_service(settings, db)``: the server's service — the deploy repository under ``data_dir/deploy.git``
  or the configured remote (settings ``deploy_repo``, ``deploy_repo_username``, ``deploy_repo_password``),
  secrets for restoring releases read from the release's project (those allowed for ``deployment``).
- ``open_local(data_dir)``: the service of ``shera exec --data-dir D`` and the ``--data-dir`` CLI commands —
  D's SQLite database (migrated), D's deploy repository, tenant ``local``; no server, no remote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shera.deploy.service import DeployService, SecretSource
from shera.deploy.targets import Targets
from shera.gitops.deployrepo import DeployRepo
from shera.model.records import ReleaseRecord
from shera.settings import Settings
from shera.store import releases, secrets
from shera.store.db import Database

LOCAL_TENANT = "local"
LOCAL_PROJECT = "local"
DEPLOY_REPO = "deploy.git"


def project_secrets(db: Database) -> SecretSource:
    """Secret values for restoring a release: its recorded secret names, from its project's secrets."""

    def source(release: ReleaseRecord) -> dict[str, str]:
        names: dict[str, Any] = dict(release.spec.get("secrets", {}))
        if not names or release.project_id is None:
            return {}
        values = {s.name: s.value for s in secrets.secrets_for(db, release.project_id, "deployment")}
        return {env: values[name] for env, name in names.items() if name in values}

    return source


def deploy_repo(settings: Settings) -> DeployRepo:
    remote: str | None = settings.deploy_repo
    return DeployRepo(
        settings.data_dir / DEPLOY_REPO,
        remote=remote or None,
        username=settings.deploy_repo_username,
        password=settings.deploy_repo_password,
    )


def open_service(settings: Settings, db: Database, *, targets: Targets | None = None) -> DeployService:
    """The server's deploy service over ``db`` (already migrated by the caller)."""
    return DeployService(
        db,
        targets or Targets.from_entry_points(data_dir=settings.data_dir, settings=settings),
        deploy_repo(settings),
        lock_dir=settings.data_dir / "deploy-locks",
        secrets=project_secrets(db),
    )


def local_database(data_dir: Path) -> Database:
    """``data_dir``'s SQLite database, migrated, with the ``local`` tenant."""
    db = Database(f"sqlite:///{data_dir / 'shera.db'}")
    db.migrate()
    releases.ensure_tenant(db, LOCAL_TENANT)
    return db


def open_local(data_dir: Path, *, targets: Targets | None = None) -> DeployService:
    """The service of a data directory without a server (see the module docstring)."""
    data_dir = data_dir.resolve()
    return DeployService(
        local_database(data_dir),
        targets or Targets.from_entry_points(data_dir=data_dir),
        DeployRepo(data_dir / DEPLOY_REPO),
        lock_dir=data_dir / "deploy-locks",
    )
