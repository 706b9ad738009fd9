"""Benchmarks of issue 5: rollback to the previous revision answering (podman), release history queries."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from shera.deploy.base import DeploySpec, HealthCheck
from shera.deploy.podman.target import PodmanTarget
from shera.executors.podman_config import write_config
from shera.store import releases
from shera.store.db import Database
from shera.store.releases import NewRelease

HISTORY_TARGET_S = 0.050
ROLLBACK_TARGET_S = 2.0


def bench_history() -> tuple[float, bool]:
    """Best of 5: the newest 100 releases of an app with 1,000, its live release, and the quarantine check."""
    with tempfile.TemporaryDirectory(prefix="shera-bench-") as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.migrate()
        releases.ensure_tenant(db, "local")
        for app, count in (("web", 1000), ("api", 200)):
            for _ in range(count):
                releases.create_release(
                    db,
                    NewRelease(
                        tenant_id="local", app=app, environment="production", target="podman", image="r/x:1"
                    ),
                )
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            page = releases.list_releases(db, "local", "web", "production", limit=100)
            releases.live_release(db, "local", "web", "production")
            releases.is_quarantined(db, "local", "web", "production", "f" * 40)
            timings.append(time.perf_counter() - started)
        db.dispose()
    best = min(timings)
    ok = best <= HISTORY_TARGET_S and page[0].revision == 1000
    print(
        f"release history (1,000 releases): {best * 1000:.1f} ms "
        f"(target <= {HISTORY_TARGET_S * 1000:.0f} ms) {'OK' if ok else 'MISSED'}"
    )
    return best, ok


def _podman(env: dict[str, str], *args: str) -> None:
    subprocess.run(["podman", *args], env=env, check=True, capture_output=True, timeout=300)


def _app_image(env: dict[str, str], root: Path, version: str) -> str:
    context = root / version
    (context / "www").mkdir(parents=True)
    (context / "www" / "index.html").write_text(f"{version}\n")
    (context / "www" / "healthz").write_text("ok\n")
    command = '["httpd", "-f", "-p", "8080", "-h", "/www"]'
    (context / "Containerfile").write_text(
        f"FROM localhost/bench/busybox:latest\nCOPY www /www\nCMD {command}\n"
    )
    tag = f"localhost/bench/app:{version}"
    _podman(env, "build", "--isolation", "chroot", "-q", "-t", tag, str(context))
    return tag


def bench_rollback() -> tuple[float, bool]:
    """v1 then v2 live (2 replicas, http health); the time from ``rollback_to(v1)`` until v1 answers."""
    if shutil.which("podman") is None or not Path("/bin/busybox").is_file():
        print("rollback: podman or busybox-static missing; skipped")
        return 0.0, True
    root = Path(tempfile.mkdtemp(prefix="shera-bench-deploy-"))
    env = {**os.environ, **write_config(root / "podman").env}
    target = PodmanTarget(env=env, state_dir=root / "state")
    try:
        base = root / "busybox"
        base.mkdir()
        shutil.copy2("/bin/busybox", base / "busybox")
        (base / "Containerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        )
        _podman(
            env, "build", "--isolation", "chroot", "-q", "-t", "localhost/bench/busybox:latest", str(base)
        )
        health = HealthCheck(kind="http", port=8080, path="/healthz", timeout_s=1.0, interval_s=0.2)

        def spec(revision: int, image: str) -> DeploySpec:
            return DeploySpec(
                tenant="bench", app="web", environment="prod", revision=revision, image=image,
                replicas=2, ports=(8080,), health=health, deadline_s=30.0,
            )  # fmt: skip

        sink: list[bytes] = []
        v1, v2 = spec(1, _app_image(env, root, "v1")), spec(2, _app_image(env, root, "v2"))
        for release in (v1, v2):
            target.apply(release, target.render(release), out=sink.append)
            status = target.wait(release, out=sink.append)
            if status.state != "available":
                print(f"rollback: could not deploy {release.revision}: {status.message}; skipped")
                return 0.0, False
        started = time.perf_counter()
        target.rollback_to(v1, target.render(v1), out=sink.append)
        answered = 0.0
        while time.perf_counter() - started < 30:
            for endpoint in target.endpoints("bench", "web", "prod"):
                try:
                    if httpx.get(f"http://{endpoint.host}:{endpoint.port}/", timeout=1).text.strip() == "v1":
                        answered = time.perf_counter() - started
                except httpx.HTTPError:
                    continue
            if answered:
                break
            time.sleep(0.02)
    finally:
        target.delete("bench", "web", "prod")
        subprocess.run(["podman", "system", "reset", "--force"], env=env, capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
    ok = 0 < answered <= ROLLBACK_TARGET_S
    print(
        f"rollback (podman): previous revision answering {answered:.2f} s after the call "
        f"(target <= {ROLLBACK_TARGET_S:.0f} s) {'OK' if ok else 'MISSED'}"
    )
    return answered, ok
