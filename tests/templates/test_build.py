"""The python-web and static-site templates build with buildah on locally made Debian base images, and
their containers answer HTTP on 127.0.0.1 (real buildah and podman, a private store per session)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from shera.steps.templates import TemplateCatalog
from tests.support.podman import PodmanTestEnv
from tests.support.registry import free_port

pytestmark = [pytest.mark.podman, pytest.mark.slow]


def run(env: Mapping[str, str], *argv: str, timeout: float = 300) -> str:
    done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def build(env: Mapping[str, str], context: Path, tag: str, base_image: str) -> str:
    """``buildah bud`` with layer caching and chroot isolation; returns its output."""
    return run(
        env,
        "buildah", "bud", "--isolation", "chroot", "--layers",
        "--build-arg", f"BASE_IMAGE={base_image}",
        "-t", tag, str(context),
    )  # fmt: skip


def layers(podman: PodmanTestEnv, image: str) -> list[str]:
    """The image's layer digests, base first."""
    inspected = json.loads(podman.podman("image", "inspect", image).stdout)[0]
    found: list[str] = inspected["RootFS"]["Layers"]
    return found


def wait_http(url: str, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Containers:
    """Starts containers on loopback-only user-mode networking; removes them at teardown."""

    def __init__(self, podman: PodmanTestEnv) -> None:
        self.podman = podman
        self.names: list[str] = []

    def start(self, image: str, container_port: int) -> int:
        port = free_port()
        name = f"shera-tpl-{len(self.names)}-{port}"
        self.names.append(name)
        run(
            self.podman.env,
            "podman", "run", "-d", "--init", "--name", name,
            "--network", "slirp4netns:port_handler=slirp4netns",
            "-p", f"127.0.0.1:{port}:{container_port}",
            image,
        )  # fmt: skip
        return port

    def logs(self) -> str:
        return "\n".join(self.podman.podman("logs", name, check=False).stderr for name in self.names)

    def remove(self) -> None:
        for name in self.names:
            self.podman.podman("rm", "--force", "--time", "2", name, check=False)


@pytest.fixture
def containers(podman_env: PodmanTestEnv) -> Iterator[Containers]:
    made = Containers(podman_env)
    yield made
    made.remove()


def test_python_web_builds_and_answers_http(
    podman_env: PodmanTestEnv, debian_python: str, containers: Containers, tmp_path: Path
) -> None:
    # Given a repository scaffolded from python-web, built on the local Debian python3 image
    app = tmp_path / "app"
    TemplateCatalog().scaffold("python-web", app)
    image = "localhost/shera-test/tpl-python-web:1"
    build(podman_env.env, app, image, debian_python)

    # When it runs, Then / and /healthz answer on the loopback port
    port = containers.start(image, 8000)
    health = wait_http(f"http://127.0.0.1:{port}/healthz")
    assert (health.status_code, health.text) == (200, "ok\n"), containers.logs()
    root = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert root.json()["message"] == "hello from python-web"
    assert httpx.get(f"http://127.0.0.1:{port}/nope", timeout=2).status_code == 404
    user = podman_env.podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
    assert user == "65534:65534", "the app does not run as root"

    # When one source file changes, Then the rebuild reuses every layer but the last (so a push sends one)
    wsgi = app / "app" / "wsgi.py"
    wsgi.write_text(wsgi.read_text().replace("hello from python-web", "hello again"))
    output = build(podman_env.env, app, "localhost/shera-test/tpl-python-web:2", debian_python)
    assert "Using cache" in output, output
    before, after = (layers(podman_env, f"localhost/shera-test/tpl-python-web:{n}") for n in (1, 2))
    assert len(before) == len(after) and before[:-1] == after[:-1] and before[-1] != after[-1]
    port = containers.start("localhost/shera-test/tpl-python-web:2", 8000)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=2).json()["message"] == "hello again"


def test_static_site_builds_and_answers_http(
    podman_env: PodmanTestEnv, debian_nginx: str, containers: Containers, tmp_path: Path
) -> None:
    # Given a repository scaffolded from static-site, built on the local Debian nginx image
    site = tmp_path / "site"
    TemplateCatalog().scaffold("static-site", site)
    image = "localhost/shera-test/tpl-static-site:1"
    build(podman_env.env, site, image, debian_nginx)
    config = json.loads(podman_env.podman("image", "inspect", image).stdout)[0]["Config"]
    assert config["StopSignal"] == "SIGQUIT"

    # When it runs, Then the page and /healthz answer on the loopback port
    port = containers.start(image, 8080)
    health = wait_http(f"http://127.0.0.1:{port}/healthz")
    assert (health.status_code, health.text) == (200, "ok\n"), containers.logs()
    page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert page.status_code == 200
    assert page.text == (site / "public" / "index.html").read_text()
    assert httpx.get(f"http://127.0.0.1:{port}/missing.html", timeout=2).status_code == 404
