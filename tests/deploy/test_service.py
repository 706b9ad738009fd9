"""Deploy service with an in-memory target (tests/deploy/fake.py) and a real deploy repository and database:
releases and their statuses, quarantine, automatic and manual rollback, scale, delete, drift, reconcile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shera.deploy.base import DEPLOY_TARGETS, DeploySpec
from shera.deploy.reconcile import reconcile_once
from shera.deploy.service import DeployRequest, DeployService
from shera.deploy.targets import Targets
from shera.errors import ConfigError
from shera.gitops.deployrepo import DeployRepo
from shera.plugins import Registry
from shera.store import releases, tenants
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound
from tests.deploy.fake import FakeTarget
from tests.support.database import sqlite_database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def tenant(db: Database) -> str:
    return tenants.create_tenant(db, "acme").id


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def repo(tmp_path: Path) -> DeployRepo:
    return DeployRepo(tmp_path / "deploy.git")


@pytest.fixture
def service(db: Database, target: FakeTarget, repo: DeployRepo, tmp_path: Path) -> DeployService:
    registry = Registry()
    registry.register(DEPLOY_TARGETS, "fake", target)
    return DeployService(
        db, Targets(registry), repo, lock_dir=tmp_path / "locks", secrets=lambda _r: {"T": "s3"}
    )


def request(tenant: str, version: str, **options: object) -> DeployRequest:
    spec = DeploySpec(
        tenant=tenant,
        app="web",
        environment="production",
        revision=0,
        image=f"registry.test/web:{version}",
        digest=f"sha256:{version * 64}"[:71],
        sha=version * 40,
        run_id=f"run-{version}",
        ports=(8000,),
        secret_env={"T": "s3"},
    )
    return DeployRequest(spec=spec, target="fake", secrets={"T": "TOKEN"}, **options)  # type: ignore[arg-type]


def test_a_successful_deploy_goes_live_and_is_one_commit(
    service: DeployService, repo: DeployRepo, tenant: str, target: FakeTarget
) -> None:
    outcome = service.deploy(request(tenant, "1"))

    assert outcome.status == "live" and outcome.release is not None
    release = outcome.release
    assert (release.revision, release.status, release.image) == (1, "live", "registry.test/web:1")
    assert release.endpoints[0]["port"] == 40010
    assert release.spec["secrets"] == {"T": "TOKEN"} and "s3" not in json.dumps(release.spec)
    commits = repo.log("web", "production")
    assert [c.sha for c in commits] == [release.deploy_commit]
    message = repo.log()[0].subject
    assert message == "web/production: release 1 live"
    files = repo.files("web", "production")
    info = json.loads(files["release.json"])
    assert (info["revision"], info["status"], info["sha"], info["run"]) == (1, "live", "1" * 40, "run-1")
    assert json.loads(files["Deployment-web.json"])["spec"]["image"] == "registry.test/web:1"
    assert [c[0] for c in target.calls] == ["apply", "wait"]


def test_the_commit_message_names_run_sha_and_digest(
    service: DeployService, repo: DeployRepo, tenant: str
) -> None:
    release = service.deploy(request(tenant, "1")).release
    assert release is not None and release.deploy_commit is not None

    full = repo.message(release.deploy_commit)

    assert "run: run-1" in full and f"sha: {'1' * 40}" in full and "digest: sha256:" in full


def test_next_release_supersedes_the_live_one(service: DeployService, tenant: str) -> None:
    service.deploy(request(tenant, "1"))
    outcome = service.deploy(request(tenant, "2"))

    history = releases.list_releases(service.db, tenant, "web", "production")
    assert outcome.status == "live"
    assert [(r.revision, r.status) for r in history] == [(2, "live"), (1, "superseded")]


def test_a_failed_rollout_is_rolled_back_automatically(
    service: DeployService, repo: DeployRepo, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1"))
    service.deploy(request(tenant, "2"))
    target.failing.add("registry.test/web:3")

    outcome = service.deploy(request(tenant, "3"))

    assert outcome.status == "rolled_back"
    assert outcome.restored is not None and outcome.restored.rollback_of == 2
    history = releases.list_releases(service.db, tenant, "web", "production")
    assert [(r.revision, r.status, r.rollback_of) for r in history] == [
        (4, "live", 2),
        (3, "rolled_back", None),
        (2, "superseded", None),
        (1, "superseded", None),
    ]
    assert history[1].reason == "health check never passed"
    assert ("rollback_to", "web", "production", 2) in target.calls
    assert target.serving[(tenant, "web", "production")] == 2
    # one commit per release; the last one restores release 2's manifests
    assert len(repo.log("web", "production")) == 4
    at_2 = repo.files("web", "production", history[2].deploy_commit)
    now = repo.files("web", "production")
    assert {k: v for k, v in now.items() if k != "release.json"} == {
        k: v for k, v in at_2.items() if k != "release.json"
    }
    assert json.loads(now["release.json"])["rollback_of"] == 2


def test_rollback_manual_leaves_the_failure_in_place(
    service: DeployService, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1"))
    target.failing.add("registry.test/web:2")

    outcome = service.deploy(request(tenant, "2", rollback="manual"))

    assert outcome.status == "failed" and outcome.restored is None
    assert not any(call[0] == "rollback_to" for call in target.calls)
    live = releases.live_release(service.db, tenant, "web", "production")
    assert live is not None and live.revision == 1


def test_first_deploy_that_fails_has_nothing_to_roll_back_to(
    service: DeployService, tenant: str, target: FakeTarget
) -> None:
    target.failing.add("registry.test/web:1")

    outcome = service.deploy(request(tenant, "1"))

    assert outcome.status == "failed"
    assert releases.live_release(service.db, tenant, "web", "production") is None


def test_a_failed_commit_is_quarantined_unless_forced(
    service: DeployService, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1"))
    target.failing.add("registry.test/web:2")
    service.deploy(request(tenant, "2"))
    target.failing.clear()
    calls = len(target.calls)

    skipped = service.deploy(request(tenant, "2"))

    assert skipped.status == "skipped" and skipped.release is None
    assert "quarantined" in skipped.message and "2" * 40 in skipped.message
    assert len(target.calls) == calls
    forced = service.deploy(request(tenant, "2", force=True))
    assert forced.status == "live" and forced.release is not None and forced.release.forced


def test_manual_rollback_to_a_revision_is_a_new_release(
    service: DeployService, repo: DeployRepo, tenant: str, target: FakeTarget
) -> None:
    first = service.deploy(request(tenant, "1")).release
    service.deploy(request(tenant, "2"))
    assert first is not None

    outcome = service.rollback(tenant, "web", "production", to=1)

    assert outcome.status == "live" and outcome.release is not None
    assert (outcome.release.revision, outcome.release.rollback_of, outcome.release.image) == (
        3,
        1,
        "registry.test/web:1",
    )
    assert target.calls[-1] == ("rollback_to", "web", "production", 1)
    old = repo.files("web", "production", first.deploy_commit)
    new = repo.files("web", "production")
    assert old["Deployment-web.json"] == new["Deployment-web.json"]
    assert len(repo.log("web", "production")) == 3


def test_rollback_without_revision_restores_the_previous_one(service: DeployService, tenant: str) -> None:
    service.deploy(request(tenant, "1"))
    service.deploy(request(tenant, "2"))

    outcome = service.rollback(tenant, "web", "production")

    assert outcome.release is not None and outcome.release.rollback_of == 1


def test_rollback_refusals(service: DeployService, tenant: str, target: FakeTarget) -> None:
    service.deploy(request(tenant, "1"))
    target.failing.add("registry.test/web:2")
    service.deploy(request(tenant, "2"))

    with pytest.raises(Conflict, match="already live"):
        service.rollback(tenant, "web", "production", to=3)
    with pytest.raises(Conflict, match="rolled_back"):
        service.rollback(tenant, "web", "production", to=2)
    with pytest.raises(NotFound):
        service.rollback(tenant, "web", "production", to=99)
    with pytest.raises(NotFound):
        service.rollback(tenant, "nope", "production", to=1)


def test_the_restored_release_gets_secret_values_from_the_source(
    service: DeployService, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1"))
    service.deploy(request(tenant, "2"))
    service.rollback(tenant, "web", "production", to=1)

    spec = service.spec_of(releases.get_release(service.db, tenant, "web", "production", 1))  # type: ignore[arg-type]

    assert spec.secret_env == {"T": "s3"} and spec.ports == (8000,)


def test_scale_changes_replicas_and_records_them(
    service: DeployService, repo: DeployRepo, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1"))

    record = service.scale(tenant, "web", "production", 3)

    assert record.replicas == 3 and record.spec["spec"]["replicas"] == 3
    assert ("scale", "web", "production", 3) in target.calls
    files = repo.files("web", "production")
    assert json.loads(files["Deployment-web.json"])["spec"]["replicas"] == 3
    assert json.loads(files["release.json"])["replicas"] == 3
    assert service.diff(tenant, "web", "production") == []
    with pytest.raises(NotFound):
        service.scale(tenant, "api", "production", 2)


def test_delete_removes_the_app_everywhere(
    service: DeployService, repo: DeployRepo, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1"))

    service.delete(tenant, "web", "production")

    assert ("delete", "web", "production") in target.calls
    assert repo.files("web", "production") == {}
    assert releases.current_releases(service.db, tenant) == []
    assert releases.list_releases(service.db, tenant, "web", "production")[0].status == "superseded"
    with pytest.raises(NotFound):
        service.delete(tenant, "ghost", "production")


def test_diff_shows_drift_and_the_reconciler_repairs_it(
    service: DeployService, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1", sync="auto"))
    assert service.diff(tenant, "web", "production") == []
    # Given someone changed the live deployment by hand and removed the service
    key = (tenant, "web", "production")
    target.objects[key]["Deployment/web"]["spec"]["image"] = "evil/image:latest"
    target.objects[key]["Deployment/web"]["status"] = {"ready": 1}  # fields nobody recorded are ignored
    del target.objects[key]["Service/web"]

    drift = service.diff(tenant, "web", "production")

    assert "- Service/web: in the deploy repository, not live" in drift
    assert any(line.startswith('+    "image": "evil/image:latest"') for line in drift), drift
    done = reconcile_once(service)
    assert [(r.app, r.action) for r in done] == [("web", "reapplied")]
    assert service.diff(tenant, "web", "production") == []
    assert [r.action for r in reconcile_once(service)] == ["in-sync"]


def test_the_reconciler_leaves_manual_sync_alone(
    service: DeployService, tenant: str, target: FakeTarget
) -> None:
    service.deploy(request(tenant, "1"))
    del target.objects[(tenant, "web", "production")]["Service/web"]

    assert reconcile_once(service) == []
    assert service.diff(tenant, "web", "production")


def test_an_unknown_target_is_a_clear_error(service: DeployService, tenant: str) -> None:
    bad = replace(request(tenant, "1"), target="mars")

    with pytest.raises(ConfigError, match="unknown deploy_target 'mars'; known: fake"):
        service.deploy(bad)
    assert releases.list_releases(service.db, tenant, "web", "production") == []


def test_health_of_the_live_release(service: DeployService, tenant: str) -> None:
    release = service.deploy(request(tenant, "1")).release
    assert release is not None

    assert service.health(release) == "healthy"
