"""CLI: ``shera exec --data-dir D`` deploys a busybox httpd on podman and exposes it — the printed URL answers
through D's private nginx after exec returned; ``shera expose ls`` shows it; ``shera down --data-dir D``
leaves no container and no nginx running.

The commands run as real processes through a launcher that registers what ``pyproject.toml`` will (the
``expose`` runner, ``shera expose``/``shera down``), so the balancer really outlives ``shera exec``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shera.contrib.exposure.embedded import balancer_for, stop_all
from shera.executors.podman_config import write_config
from tests.support.balancers import fetch
from tests.support.podman import BUSYBOX_IMAGE, PodmanTestEnv, _build_images, _destroy

pytestmark = pytest.mark.podman

IMAGE = "localhost/shera-test/exposed-web:v1"
LAUNCHER = """
import sys, typer
from shera.cli import exec_cmd, expose_cmd
from shera.plugins import Registry
from shera.steps.expose_runner import ExposeRunner
from shera.steps.runner import RUNNERS

def registry():
    found = Registry.from_entry_points([RUNNERS])
    if "expose" not in found.names(RUNNERS):
        found.register(RUNNERS, "expose", ExposeRunner)
    return found

exec_cmd.runner_registry = registry
app = typer.Typer()
exec_cmd.register(app)
expose_cmd.register(app)
app()
"""
PIPELINE = f"""\
steps:
  - name: ship
    uses: deploy
    with:
      app: web
      image: {IMAGE}
      ports: [8080]
      health: {{http: {{port: 8080, path: /healthz}}}}
  - name: publish
    uses: expose
    with:
      app: web
"""


@pytest.fixture
def data_dir(podman_env: PodmanTestEnv) -> Iterator[Path]:
    """D with its own podman store (what ``shera exec --data-dir D`` uses) holding the app image."""
    if shutil.which("nginx") is None:
        pytest.skip("needs nginx")
    root = Path(tempfile.mkdtemp(prefix="shx-", dir="/tmp"))
    data = root / "d"
    env = {**os.environ, **write_config(data / "podman").env}
    try:
        _build_images(env, root / "images")
        context = root / "app"
        (context / "www").mkdir(parents=True)
        (context / "www" / "index.html").write_text("hello from v1\n")
        (context / "www" / "healthz").write_text("ok\n")
        (context / "Containerfile").write_text(
            f'FROM {BUSYBOX_IMAGE}\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n'
        )
        subprocess.run(
            ["buildah", "bud", "--isolation", "chroot", "--quiet", "-t", IMAGE, str(context)],
            env=env, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        yield data
    finally:
        stop_all(data)
        _destroy(env, root)


def shera(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHERA_")}
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def test_exec_exposes_the_app_and_down_stops_everything(data_dir: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".shera.yml").write_text(PIPELINE)

    done = shera("exec", str(repo), "--executor", "local", "--data-dir", str(data_dir), cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    urls = [line.split("URL: ", 1)[1].strip() for line in done.stdout.splitlines() if "URL: " in line]
    assert urls and urls[0].startswith("http://web.local.localhost:"), done.stdout
    listen = "127.0.0.1:" + urls[0].rsplit(":", 1)[1].rstrip("/")
    # exec has returned: the private nginx still serves the app
    reply = fetch(listen, "web.local.localhost")
    assert (reply.status, reply.body.strip()) == (200, "hello from v1")

    listed = shera("expose", "ls", "--format", "json", "--data-dir", str(data_dir), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["app"], row["zone"], row["host"], row["url"]) == (
        "web",
        "public",
        "web.local.localhost",
        urls[0],
    )
    assert len(row["upstreams"]) == 1

    down = shera("down", "--data-dir", str(data_dir), cwd=tmp_path)

    assert down.returncode == 0, down.stderr
    assert "stopped web (production)" in down.stdout
    assert "stopped the public balancer" in down.stdout
    assert balancer_for(data_dir, "public").pid() is None
    env = {**os.environ, **write_config(data_dir / "podman").env}
    left = subprocess.run(
        ["podman", "ps", "--all", "--quiet"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert left.stdout.strip() == ""
    with pytest.raises(OSError):
        fetch(listen, "web.local.localhost", timeout=1)
