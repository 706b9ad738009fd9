"""Image retention against a real private registry: old manifests are deleted by digest, the newest per
branch and protected digests stay, credentials come from the project's secrets, and a registry that is
down leaves the rows for the next pass."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dramatiq.brokers.stub import StubBroker

from shera.model.records import ProjectRecord
from shera.queue.loops import start_loops
from shera.queue.retention import apply_retention, prune_project
from shera.settings import Settings
from shera.store import images, secrets
from shera.store.db import Database
from tests.runs.support import make_project
from tests.support.database import sqlite_database
from tests.support.oci import Pushed, push_image
from tests.support.registry import HtpasswdRegistry, free_port, registry, registry_htpasswd

__all__ = ["registry", "registry_htpasswd"]  # fixtures used below

REPO = "acme/app"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


def build(
    db: Database, http: httpx.Client, host: str, project: ProjectRecord, n: int, tags: list[str], branch: str
) -> Pushed:
    """Push build ``n`` to the real registry under ``tags`` and record each tag as the worker would."""
    pushed = push_image(http, REPO, tags, payload=f"build {n}".encode())
    for tag in tags:
        images.record_image(
            db,
            tenant_id=project.tenant_id,
            project_id=project.id,
            registry_host=host,
            repository=REPO,
            tag=tag,
            digest=pushed.digest,
            size=pushed.size,
            run_id=f"run{n}",
            step="image",
            sha=f"{n:040x}",
            branch=branch,
        )
    return pushed


def registry_tags(host: str, auth: tuple[str, str] | None = None) -> set[str]:
    body = httpx.get(f"http://{host}/v2/{REPO}/tags/list", auth=auth).json()
    return set(body.get("tags") or ())


def live_tags(db: Database, project: ProjectRecord) -> set[str]:
    return {t.tag for t in images.list_tags(db, project.tenant_id, REPO)}


def test_prune_deletes_old_manifests_and_keeps_the_newest_and_protected(
    db: Database, registry: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, insecure_registries=registry)
    project = make_project(db)
    images.set_retention(db, project.id, project.tenant_id, 1)
    with httpx.Client(base_url=f"http://{registry}") as http:
        released = build(db, http, registry, project, 1, ["sha1"], "main")
        old = build(db, http, registry, project, 2, ["sha2"], "main")
        build(db, http, registry, project, 3, ["sha3", "main", "latest"], "main")
        build(db, http, registry, project, 4, ["sha4", "dev"], "dev")
    everything = {"sha1", "sha2", "sha3", "main", "latest", "sha4", "dev"}

    preview = prune_project(db, settings, project.id, project.tenant_id, dry_run=True)
    assert registry_tags(registry) == everything and live_tags(db, project) == everything
    result = prune_project(
        db, settings, project.id, project.tenant_id, protected=frozenset({released.digest})
    )

    assert sorted(i.tag for i in preview.removed) == ["sha1", "sha2"]  # nothing protected in the preview
    assert preview.dry_run and len(preview.deleted) == 2
    assert [i.tag for i in result.removed] == ["sha2"]
    assert result.deleted == (f"{registry}/{REPO}@{old.digest}",) and result.errors == ()
    assert registry_tags(registry) == everything - {"sha2"}
    assert live_tags(db, project) == everything - {"sha2"}


def test_prune_uses_the_projects_registry_credentials(
    db: Database, registry_htpasswd: HtpasswdRegistry, tmp_path: Path
) -> None:
    host = registry_htpasswd.address
    auth = (registry_htpasswd.username, registry_htpasswd.password)
    settings = Settings(data_dir=tmp_path, insecure_registries=host)
    project = make_project(db)
    images.set_retention(db, project.id, project.tenant_id, 1)
    with httpx.Client(base_url=f"http://{host}", auth=auth) as http:
        build(db, http, host, project, 1, ["sha1"], "main")
        build(db, http, host, project, 2, ["sha2"], "main")

    # Without credentials the registry refuses: the tag stays, in the registry and in the image center.
    refused = prune_project(db, settings, project.id, project.tenant_id)
    assert refused.removed == () and "401" in refused.errors[0]
    assert live_tags(db, project) == {"sha1", "sha2"}

    for name, value in zip(("REGISTRY_USERNAME", "REGISTRY_PASSWORD"), auth, strict=True):
        secrets.put_secret(db, project.id, project.tenant_id, name, value, ["push"])
    result = prune_project(db, settings, project.id, project.tenant_id)

    assert [i.tag for i in result.removed] == ["sha1"] and result.errors == ()
    assert registry_tags(host, auth) == {"sha2"}
    assert live_tags(db, project) == {"sha2"}


def test_a_registry_that_is_down_leaves_the_tags_for_the_next_pass(db: Database, tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    settings = Settings(data_dir=tmp_path, insecure_registries=host)
    project = make_project(db)
    images.set_retention(db, project.id, project.tenant_id, 1)
    for n in (1, 2):
        images.record_image(
            db, tenant_id=project.tenant_id, project_id=project.id, registry_host=host, repository=REPO,
            tag=f"sha{n}", digest="sha256:" + f"{n:064x}", size=1, run_id=None, step=None, sha=None,
            branch="main",
        )  # fmt: skip

    results = apply_retention(db, settings)

    assert [r.project_id for r in results] == [project.id]
    assert results[0].removed == () and "did not answer" in results[0].errors[0]
    assert live_tags(db, project) == {"sha1", "sha2"}


def test_periodic_pass_covers_every_project_and_asks_for_protected_digests(
    db: Database, registry: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, insecure_registries=registry)
    first, second = make_project(db), make_project(db)
    with httpx.Client(base_url=f"http://{registry}") as http:
        kept = build(db, http, registry, first, 1, ["one-1"], "main")
        for n in range(2, 13):  # the default policy keeps 10 per branch
            build(db, http, registry, first, n, [f"one-{n}"], "main")
        images.set_retention(db, second.id, second.tenant_id, 1)
        # Another tenant's project pushing into the same repository: its own tags, its own policy.
        build(db, http, registry, second, 20, ["two-20"], "main")
        build(db, http, registry, second, 21, ["two-21"], "main")
    asked: list[str] = []

    def protected_for(project_id: str) -> frozenset[str]:
        asked.append(project_id)
        return frozenset({kept.digest}) if project_id == first.id else frozenset()

    results = {r.project_id: r for r in apply_retention(db, settings, protected_for=protected_for)}

    assert sorted(asked) == sorted([first.id, second.id])
    assert [i.tag for i in results[first.id].removed] == ["one-2"]
    assert [i.tag for i in results[second.id].removed] == ["two-20"]
    assert "one-1" in registry_tags(registry) and not {"one-2", "two-20"} & registry_tags(registry)
    again = apply_retention(db, settings, protected_for=protected_for)
    assert len(again) == 2 and all(r.removed == () and r.errors == () for r in again)  # idempotent


def test_the_worker_loops_apply_retention_periodically(db: Database, registry: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, insecure_registries=registry, image_retention_interval=0.2)
    project = make_project(db)
    with httpx.Client(base_url=f"http://{registry}") as http:
        build(db, http, registry, project, 1, ["sha1"], "main")
        images.set_retention(db, project.id, project.tenant_id, 1)
        loops = start_loops(db, settings, StubBroker(), relay=False, reaper=False, reconciler=False)
        try:
            build(
                db, http, registry, project, 2, ["sha2"], "main"
            )  # after the first pass: the next one prunes
            deadline = time.monotonic() + 10
            while "sha1" in registry_tags(registry) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            loops.stop()

    assert registry_tags(registry) == {"sha2"}
    assert live_tags(db, project) == {"sha2"}
