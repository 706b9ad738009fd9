"""Step runners ``uses: deploy`` and ``uses: rollback``: defaults (the image the run built, the environment of
the branch), located errors, secrets, the step's result and artifacts — over the deploy service with the
in-memory target (tests/deploy/fake.py) and a real database and deploy repository."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from shera.deploy.base import DEPLOY_TARGETS
from shera.deploy.service import DeployService
from shera.deploy.targets import Targets
from shera.model.event import Event, EventKind
from shera.model.plan import StepKind, StepPlan, WorkflowPlan
from shera.model.status import Status
from shera.plugins import Registry
from shera.steps.deploy_runner import DeployRunner
from shera.steps.deploy_wiring import LOCAL_TENANT, open_local
from shera.steps.rollback_runner import RollbackRunner
from shera.steps.runner import KindContext
from shera.store import releases
from tests.deploy.fake import FakeTarget

DIGEST = "sha256:" + "d" * 64
BUILT = {"image": {"images": [{"ref": "registry.test/web:abc", "digest": DIGEST}]}}


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


@pytest.fixture
def service(tmp_path: Path, target: FakeTarget) -> DeployService:
    registry = Registry()
    registry.register(DEPLOY_TARGETS, "podman", target)
    registry.register(DEPLOY_TARGETS, "kubernetes", target)
    return open_local(tmp_path / "data", targets=Targets(registry))


def context(
    with_: Mapping[str, Any],
    *,
    kind: str = "deploy",
    artifacts: Mapping[str, Mapping[str, Any]] | None = None,
    event: Event | None = None,
    secrets: Mapping[str, str] | None = None,
) -> tuple[KindContext, bytearray]:
    log = bytearray()
    step = StepPlan(name="ship", kind=StepKind.USES, uses=kind, with_=dict(with_), file=".shera.yml", line=7)
    ctx = KindContext(
        step=step,
        workflow=WorkflowPlan(name="ci"),
        event=event or Event(commit="c" * 40, branch="main"),
        source_dir=Path("/nonexistent"),
        env={},
        secrets=secrets or {},
        out=log.extend,
        cancel=threading.Event(),
        data_dir=Path("/unused"),
        artifacts=artifacts or {},
    )
    return ctx, log


def runners(service: DeployService) -> tuple[DeployRunner, RollbackRunner]:
    def opener(_ctx: KindContext) -> tuple[DeployService, str]:
        return service, LOCAL_TENANT

    return DeployRunner(opener), RollbackRunner(opener)


def test_deploys_the_image_the_run_built_pinned_by_digest(service: DeployService, target: FakeTarget) -> None:
    deploy, _ = runners(service)
    ctx, log = context({"app": "web", "ports": [8000]}, artifacts=BUILT)

    done = deploy.run(ctx)

    assert done.result.status is Status.SUCCESS, done.result.error
    release = releases.live_release(service.db, LOCAL_TENANT, "web", "production")
    assert release is not None
    assert (release.image, release.digest, release.sha) == (f"registry.test/web@{DIGEST}", DIGEST, "c" * 40)
    info = done.artifacts["deploy"]
    assert (info["status"], info["revision"], info["environment"]) == ("live", 1, "production")
    assert info["commit"] == release.deploy_commit and info["endpoints"] == ["http://127.0.0.1:40010"]
    assert b"release 1 is live" in bytes(log)


def test_with_image_wins_and_keeps_a_known_digest(service: DeployService) -> None:
    deploy, _ = runners(service)

    done = deploy.run(context({"app": "web", "image": "registry.test/web:abc"}, artifacts=BUILT)[0])
    other = deploy.run(context({"app": "api", "image": "docker.io/nginx:1"}, artifacts=BUILT)[0])

    assert done.artifacts["deploy"]["digest"] == DIGEST
    assert (
        other.artifacts["deploy"]["image"] == "docker.io/nginx:1"
        and other.artifacts["deploy"]["digest"] is None
    )


@pytest.mark.parametrize(
    ("with_", "artifacts", "message"),
    [
        ({"app": "web"}, {}, "with.image is not set and no earlier step of this workflow built an image"),
        ({"app": "web"}, {**BUILT, "other": BUILT["image"]}, "several steps built images (image, other)"),
        ({"app": "web", "image": "x/y:1", "replicas": 3, "volumes": [{"name": "d", "mount": "/d"}]}, {},
         "with.volumes.0: volume 'd' is not shared but replicas is 3"),
        ({"app": "web", "image": "x/y:1", "ports": [80], "health": {"http": {"port": 81}}}, {},
         "with.health.http.port: health port 81 is not one of ports [80]"),
        ({"app": "web", "image": "x/y:1", "target": "mars"}, {}, "with.target"),
        ({"app": "web", "image": "x/y:1", "secrets": ["TOKEN"]}, {}, "secret(s) TOKEN not available"),
    ],
)  # fmt: skip
def test_bad_input_is_a_located_failure(
    service: DeployService, with_: dict[str, Any], artifacts: dict[str, Any], message: str
) -> None:
    deploy, _ = runners(service)

    done = deploy.run(context(with_, artifacts=artifacts)[0])

    assert done.result.status is Status.FAILURE
    assert done.result.error is not None and done.result.error.startswith(".shera.yml:7: step 'ship'")
    assert message in done.result.error
    assert releases.current_releases(service.db, LOCAL_TENANT) == []


def test_environment_defaults_to_the_branch(service: DeployService) -> None:
    deploy, _ = runners(service)
    feature = Event(commit="c" * 40, branch="Feature/Login_Page", default_branch="main")
    promoted = Event(kind=EventKind.DEPLOYMENT, commit="c" * 40, branch="main", deploy_target="staging")

    first = deploy.run(context({"app": "web", "image": "x/y:1"}, event=feature)[0])
    second = deploy.run(context({"app": "web", "image": "x/y:1"}, event=promoted)[0])

    assert first.artifacts["deploy"]["environment"] == "feature-login-page"
    assert second.artifacts["deploy"]["environment"] == "staging"


def test_secrets_reach_the_target_but_not_the_record(service: DeployService, target: FakeTarget) -> None:
    deploy, _ = runners(service)
    with_ = {"app": "web", "image": "x/y:1", "secrets": [{"source": "db_pw", "target": "DB_PASSWORD"}]}

    deploy.run(context(with_, secrets={"db_pw": "hunter2-secret"})[0])

    assert target.calls[0][4] == {"DB_PASSWORD": "hunter2-secret"}
    release = releases.live_release(service.db, LOCAL_TENANT, "web", "production")
    assert release is not None and "hunter2" not in repr(release)


def test_quarantine_skips_unless_the_run_forces(service: DeployService, target: FakeTarget) -> None:
    deploy, _ = runners(service)
    deploy.run(context({"app": "web", "image": "x/y:1"}, event=Event(commit="a" * 40))[0])
    target.failing.add("x/y:2")
    failed = deploy.run(context({"app": "web", "image": "x/y:2"})[0])
    target.failing.clear()

    skipped = deploy.run(context({"app": "web", "image": "x/y:2"})[0])
    forced_event = Event(kind=EventKind.MANUAL, commit="c" * 40, params={"force": "true"})
    forced = deploy.run(context({"app": "web", "image": "x/y:2"}, event=forced_event)[0])

    assert failed.result.status is Status.FAILURE and "restored" in (failed.result.error or "")
    assert skipped.result.status is Status.SKIPPED and skipped.artifacts["deploy"]["status"] == "skipped"
    assert forced.result.status is Status.SUCCESS


def test_rollback_runner_restores_a_revision(service: DeployService, target: FakeTarget) -> None:
    deploy, rollback = runners(service)
    deploy.run(context({"app": "web", "image": "x/y:1"})[0])
    deploy.run(context({"app": "web", "image": "x/y:2"}, event=Event(commit="b" * 40))[0])

    done = rollback.run(context({"app": "web", "to": 1}, kind="rollback")[0])
    again = rollback.run(context({"app": "web", "to": 3}, kind="rollback")[0])
    bad = rollback.run(context({"app": "web", "to": 0}, kind="rollback")[0])

    assert done.result.status is Status.SUCCESS and done.artifacts["deploy"]["restored"] == {
        "revision": 3,
        "of": 1,
    }
    assert again.result.status is Status.FAILURE and "already live" in (again.result.error or "")
    assert bad.result.status is Status.FAILURE and "with.to" in (bad.result.error or "")
