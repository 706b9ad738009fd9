"""Deploy service over the real podman target (tests/support/podman.py store): v1 → v2 → a failing v3 is
rolled back automatically while v2 keeps answering → rollback to release 1 answers within 2 s; the deploy
repository holds one commit per release."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shera.deploy.base import DEPLOY_TARGETS, DeploySpec, HealthCheck
from shera.deploy.podman.target import PodmanTarget
from shera.deploy.service import DeployRequest, DeployService
from shera.deploy.targets import Targets
from shera.plugins import Registry
from shera.steps.deploy_wiring import LOCAL_TENANT, open_local
from shera.store import releases
from tests.support.podman import PodmanTestEnv

pytestmark = pytest.mark.podman

IMAGE = "localhost/shera-test/releases-web:{version}"


@pytest.fixture(scope="module")
def images(podman_env: PodmanTestEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """v1, v2 answer on :8080 with /healthz; v3 has no /healthz (its rollout never becomes healthy)."""
    made = {}
    for version in ("v1", "v2", "v3"):
        context = tmp_path_factory.mktemp(f"rel-{version}")
        (context / "www").mkdir()
        (context / "www" / "index.html").write_text(f"{version}\n")
        if version != "v3":
            (context / "www" / "healthz").write_text("ok\n")
        (context / "Containerfile").write_text(
            f'FROM {podman_env.busybox}\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n'
        )
        tag = IMAGE.format(version=version)
        subprocess.run(
            ["buildah", "bud", "--isolation", "chroot", "--quiet", "-t", tag, str(context)],
            env=dict(podman_env.env),
            check=True,
            capture_output=True,
            timeout=120,
        )
        made[version] = tag
    return made


@pytest.fixture
def service(podman_env: PodmanTestEnv, tmp_path: Path) -> Iterator[DeployService]:
    target = PodmanTarget(env=podman_env.env, state_dir=tmp_path / "state", stop_grace_s=2, drain_s=0.3)
    registry = Registry()
    registry.register(DEPLOY_TARGETS, "podman", target)
    made = open_local(tmp_path / "data", targets=Targets(registry))
    yield made
    target.delete(LOCAL_TENANT, "web", "production")


def request(image: str, sha: str) -> DeployRequest:
    spec = DeploySpec(
        tenant=LOCAL_TENANT,
        app="web",
        environment="production",
        revision=0,
        image=image,
        sha=sha,
        ports=(8080,),
        health=HealthCheck("http", port=8080, path="/healthz", timeout_s=1.0, interval_s=0.5),
        deadline_s=8.0,
    )
    return DeployRequest(spec=spec, target="podman")


def answer(service: DeployService) -> str:
    live = releases.live_release(service.db, LOCAL_TENANT, "web", "production")
    assert live is not None and live.endpoints
    endpoint = live.endpoints[0]
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        url = f"http://{endpoint['host']}:{endpoint['port']}/"
        return client.get(url, headers={"Connection": "close"}).raise_for_status().text.strip()


def test_release_history_on_podman(service: DeployService, images: dict[str, str]) -> None:
    first = service.deploy(request(images["v1"], "1" * 40))
    assert first.status == "live", first.message
    assert answer(service) == "v1"
    assert service.deploy(request(images["v2"], "2" * 40)).status == "live"
    assert answer(service) == "v2"

    failed = service.deploy(request(images["v3"], "3" * 40))

    assert failed.status == "rolled_back", failed.message
    assert answer(service) == "v2"
    started = time.monotonic()
    back = service.rollback(LOCAL_TENANT, "web", "production", to=1)
    assert back.status == "live", back.message
    assert answer(service) == "v1"
    assert time.monotonic() - started < 2.0
    history = releases.list_releases(service.db, LOCAL_TENANT, "web", "production")
    assert [(r.revision, r.status, r.rollback_of) for r in history] == [
        (5, "live", 1),
        (4, "superseded", 2),
        (3, "rolled_back", None),
        (2, "superseded", None),
        (1, "superseded", None),
    ]
    assert len(service.recorder.log("web", "production")) == 5  # type: ignore[attr-defined]
