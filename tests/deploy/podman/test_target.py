"""Tests of shera/deploy/podman/target.py with real podman: rolling, failed rollout, rollback, scale.

Each test runs with slirp4netns port forwarding and, where the app allows it, with host networking too
(the ``network`` fixture in ``conftest.py``).
An "app" is busybox httpd serving ``/index.html`` (its version) and ``/healthz`` (absent in the broken
``v3``), checked over http. ``RequestLoop`` plays the client: it reads the recorded endpoints before every
request (as an exposure layer would) and round-robins over them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from shera.deploy.base import DeploySpec, DeployTarget, Endpoint, HealthCheck, RolloutStatus, Strategy, Volume
from shera.deploy.podman.target import PodmanTarget
from shera.errors import PermanentError
from tests.support.podman import PodmanTestEnv

pytestmark = pytest.mark.podman

HEALTH = HealthCheck("http", port=8080, path="/healthz", timeout_s=1.0, interval_s=0.5)
SLIRP_ONLY = pytest.mark.parametrize("network", ["slirp4netns"])


def spec(revision: int, image: str, **changes: object) -> DeploySpec:
    values: dict[str, object] = {
        "tenant": "t",
        "app": "web",
        "environment": "prod",
        "revision": revision,
        "image": image,
        "replicas": 2,
        "ports": (8080,),
        "health": HEALTH,
        "deadline_s": 20.0,
        "env": {"GREETING": "hello"},
    }
    values.update(changes)
    return DeploySpec(**values)  # type: ignore[arg-type]


def deploy(target: PodmanTarget, release: DeploySpec, out: list[bytes] | None = None) -> RolloutStatus:
    sink = (out if out is not None else []).append
    target.apply(release, target.render(release), out=sink)
    return target.wait(release, out=sink)


def live_ok(status: RolloutStatus) -> bool:
    assert status.state == "available", status.message
    return True


def get(endpoint: Endpoint, client: httpx.Client | None = None) -> str:
    """The body of ``/`` on ``endpoint`` (a new connection each time: no keep-alive to a retired instance)."""
    url = f"http://{endpoint.host}:{endpoint.port}/"
    if client is None:
        with httpx.Client(trust_env=False, timeout=2.0) as own:
            return get(endpoint, own)
    return client.get(url, headers={"Connection": "close"}).raise_for_status().text.strip()


@dataclass
class RequestLoop:
    """Requests the app's recorded endpoints round-robin, ~50 per second or more, until stopped."""

    target: PodmanTarget
    app: str = "web"
    answers: list[tuple[float, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    started: float = 0.0
    elapsed: float = 0.0

    def __enter__(self) -> RequestLoop:
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_event.set()
        self.thread.join()
        self.elapsed = time.monotonic() - self.started

    def _run(self) -> None:
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            self._loop(client)

    def _loop(self, client: httpx.Client) -> None:
        turn = 0
        while not self.stop_event.wait(0.01):
            endpoints = self.target.endpoints("t", self.app, "prod")
            if not endpoints:
                self.failures.append("no endpoint")
                continue
            endpoint = endpoints[turn % len(endpoints)]
            turn += 1
            try:
                self.answers.append((time.monotonic(), get(endpoint, client)))
            except httpx.HTTPError as exc:
                self.failures.append(f"{endpoint.instance}: {exc!r}")

    def first(self, version: str, after: float) -> float | None:
        return next((t for t, body in self.answers if body == version and t >= after), None)

    @property
    def rate(self) -> float:
        return (len(self.answers) + len(self.failures)) / self.elapsed


@SLIRP_ONLY
def test_target_satisfies_the_protocol(target: PodmanTarget) -> None:
    assert isinstance(target, DeployTarget)


def test_rolling_update_failed_rollout_and_rollback_never_drop_a_request(
    target: PodmanTarget, app_images: dict[str, str], store: PodmanTestEnv
) -> None:
    v1, v2 = spec(1, app_images["v1"]), spec(2, app_images["v2"])
    v3 = spec(3, app_images["v3"], deadline_s=3.0)
    assert live_ok(deploy(target, v1))
    assert {get(e) for e in target.endpoints("t", "web", "prod")} == {"v1"}

    with RequestLoop(target) as loop:
        # When v2 rolls out over v1, then v3 (never healthy) fails, then v1 comes back
        began = time.monotonic()
        rolled = deploy(target, v2)
        rolling_s = time.monotonic() - began
        began = time.monotonic()
        failed = deploy(target, v3)
        failing_s = time.monotonic() - began
        assert target.status(v2).state == "available"
        began = time.monotonic()
        back = target.rollback_to(v1, target.render(v1), out=lambda _c: None)
        rollback_s = time.monotonic() - began
        time.sleep(0.3)

    # Then every request was answered, by the live revision only
    assert loop.failures == []
    assert loop.rate >= 20
    assert rolled.state == "available"
    assert failed.state == "failed" and "HTTP 404" in failed.message
    assert back.state == "available" and len(back.endpoints) == 2
    assert {body for _t, body in loop.answers} == {"v1", "v2"}
    first_v1 = loop.first("v1", after=began)
    assert first_v1 is not None and first_v1 - began <= 2.0
    names = store.podman("ps", "--all", "--format", "{{.Names}}", "--filter", "label=io.shera.tenant=t")
    assert sorted(names.stdout.split()) == ["shera-t-web-prod-r1-1", "shera-t-web-prod-r1-2"]
    print(
        f"\nrolling v1->v2 (2 replicas) {rolling_s:.2f} s; failing v3 {failing_s:.2f} s; "
        f"rollback to v1 {rollback_s:.2f} s, first v1 answer after {first_v1 - began:.2f} s; "
        f"{len(loop.answers)} requests at {loop.rate:.0f}/s, 0 failed"
    )


def test_scale_live_and_delete(
    target: PodmanTarget, app_images: dict[str, str], store: PodmanTestEnv
) -> None:
    release = spec(1, app_images["v1"], replicas=1, secret_env={"TOKEN": "s3cret"})
    manifests = target.render(release)
    assert live_ok(deploy(target, release))
    assert "s3cret" not in (target.state_dir / "t" / "web" / "prod.json").read_text()

    # Applying the same release again changes nothing; another process sees the same endpoints and status
    before = target.endpoints("t", "web", "prod")
    assert live_ok(deploy(target, release)) and target.endpoints("t", "web", "prod") == before
    elsewhere = PodmanTarget(env=store.env, state_dir=target.state_dir)
    assert elsewhere.endpoints("t", "web", "prod") == before
    assert live_ok(elsewhere.wait(release, out=lambda _c: None))

    up = target.scale("t", "web", "prod", 3)
    assert up.state == "available" and len(target.endpoints("t", "web", "prod")) == 3
    newest = store.podman("exec", "shera-t-web-prod-r1-3", "sh", "-c", "echo $TOKEN").stdout
    assert newest.strip() == "s3cret"

    down = target.scale("t", "web", "prod", 1)
    assert down.state == "available" and len(target.endpoints("t", "web", "prod")) == 1
    assert len(target.status(release).endpoints) == 1

    live = target.live("t", "web", "prod")
    assert live is not None
    for key in ("image", "revision", "ports", "env", "secrets", "labels", "volumes"):
        assert live[key] == manifests[key], key
    assert live["replicas"] == 1

    target.delete("t", "web", "prod")
    assert target.live("t", "web", "prod") is None
    assert target.endpoints("t", "web", "prod") == ()


@SLIRP_ONLY
def test_shared_volume_is_mounted_by_every_replica(
    target: PodmanTarget, app_images: dict[str, str], store: PodmanTestEnv
) -> None:
    release = spec(1, app_images["v1"], app="shared", volumes=(Volume("data", "/data", shared=True),))
    assert live_ok(deploy(target, release))

    store.podman("exec", "shera-t-shared-prod-r1-1", "sh", "-c", "echo from-one > /data/note")
    read = store.podman("exec", "shera-t-shared-prod-r1-2", "cat", "/data/note")

    assert read.stdout.strip() == "from-one"
    target.delete("t", "shared", "prod", volumes=True)
    volumes = store.podman("volume", "ls", "--quiet").stdout.split()
    assert "shera-t-shared-prod-data" not in volumes


@SLIRP_ONLY
def test_recreate_strategy_replaces_all_instances(target: PodmanTarget, app_images: dict[str, str]) -> None:
    recreate = Strategy("recreate")
    assert live_ok(deploy(target, spec(1, app_images["v1"], strategy=recreate)))

    status = deploy(target, spec(2, app_images["v2"], strategy=recreate))

    assert status.state == "available"
    assert {get(e) for e in target.endpoints("t", "web", "prod")} == {"v2"}


@SLIRP_ONLY
def test_missing_image_is_a_failed_rollout_naming_podmans_reason(target: PodmanTarget) -> None:
    out: list[bytes] = []
    status = deploy(target, spec(1, "localhost/shera-test/no-such-app:1", replicas=1), out)

    assert status.state == "failed"
    assert "no-such-app" in status.message
    assert target.endpoints("t", "web", "prod") == ()


@SLIRP_ONLY
def test_apply_double_checks_unshared_volumes(target: PodmanTarget) -> None:
    single = spec(1, "localhost/x:1", replicas=1, volumes=(Volume("db", "/db"),))
    manifests = {**target.render(single), "replicas": 2}

    with pytest.raises(PermanentError, match="'db' is not shared"):
        target.apply(spec(1, "localhost/x:1", volumes=(Volume("db", "/db"),)), manifests, out=lambda _c: None)
