"""Fixtures of the podman deploy target tests: a store with a short path, app images, targets.

slirp4netns port forwarding needs an API socket at ``<podman tmp_dir>/<64-hex id>.net``, and a unix socket
path holds at most 107 bytes: the session store of ``tests/support/podman.py`` lives under pytest's long
temp path, where podman hangs starting a container with published ports. ``short_podman_env`` is the same
kind of store (same images, same builder) rooted at a short ``/tmp/shp-*`` directory, removed afterwards.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shera.deploy.podman.target import PodmanTarget
from shera.executors.podman_config import write_config
from tests.support.podman import BLOCKED_PREFIX, PodmanTestEnv, _build_images, _destroy

APP_IMAGE = "localhost/shera-test/webapp:{version}"
APP_COMMAND = '["sh", "-c", "exec httpd -f -p ${PORT:+127.0.0.1:}${PORT:-8080} -h /www"]'
"""busybox httpd on 8080 (published by slirp4netns), or on 127.0.0.1:$PORT with host networking."""


@pytest.fixture(scope="session")
def short_podman_env(podman_env: PodmanTestEnv) -> Iterator[PodmanTestEnv]:
    root = Path(tempfile.mkdtemp(prefix="shp-", dir="/tmp"))
    env = {**os.environ, **write_config(root / "c", blocked=(BLOCKED_PREFIX,)).env}
    try:
        _build_images(env, root)
        yield PodmanTestEnv(root=root, env=env)
    finally:
        _destroy(env, root)


def _build_app(store: PodmanTestEnv, context: Path, version: str) -> str:
    (context / "www").mkdir(parents=True)
    (context / "www" / "index.html").write_text(f"{version}\n")
    if version != "v3":
        (context / "www" / "healthz").write_text("ok\n")
    (context / "Containerfile").write_text(f"FROM {store.busybox}\nCOPY www /www\nCMD {APP_COMMAND}\n")
    tag = APP_IMAGE.format(version=version)
    subprocess.run(
        ["buildah", "bud", "--isolation", "chroot", "--quiet", "-t", tag, str(context)],
        env=dict(store.env),
        check=True,
        capture_output=True,
        timeout=120,
    )
    return tag


@pytest.fixture(scope="session")
def app_images_in(tmp_path_factory: pytest.TempPathFactory) -> Callable[[PodmanTestEnv], dict[str, str]]:
    """Builds (once per store) ``v1``, ``v2`` (healthy) and ``v3`` (no /healthz) of the busybox httpd app."""
    built: dict[Path, dict[str, str]] = {}

    def images(store: PodmanTestEnv) -> dict[str, str]:
        if store.root not in built:
            base = tmp_path_factory.mktemp("apps")
            built[store.root] = {v: _build_app(store, base / v, v) for v in ("v1", "v2", "v3")}
        return built[store.root]

    return images


@pytest.fixture(params=["slirp4netns", "host"])
def network(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(network: str, request: pytest.FixtureRequest) -> PodmanTestEnv:
    """The store a target of ``network`` runs in (slirp4netns needs the short one)."""
    name = "short_podman_env" if network == "slirp4netns" else "podman_env"
    found: PodmanTestEnv = request.getfixturevalue(name)
    return found


@pytest.fixture
def app_images(
    store: PodmanTestEnv, app_images_in: Callable[[PodmanTestEnv], dict[str, str]]
) -> dict[str, str]:
    return app_images_in(store)


@pytest.fixture
def target(store: PodmanTestEnv, network: str, tmp_path: Path) -> Iterator[PodmanTarget]:
    """A target on ``store``; afterwards every app of tenant ``t`` is deleted and no container is left."""
    made = PodmanTarget(
        env=store.env,
        state_dir=tmp_path / "state",
        stop_grace_s=2,
        drain_s=0.3,
        network=network,  # type: ignore[arg-type]
    )
    yield made
    for app in ("web", "shared"):
        made.delete("t", app, "prod", volumes=True)
    left = store.podman("ps", "--all", "--quiet", "--filter", "label=io.shera.tenant=t").stdout
    assert left.strip() == ""
    assert not list((tmp_path / "state" / "envfiles").glob("*"))
