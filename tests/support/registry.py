"""Test support: a private distribution registry (Debian ``docker-registry``) on a free loopback port.

Fixtures (function scope, each test gets its own registry and storage under its ``tmp_path``):

- ``registry`` -> ``"127.0.0.1:PORT"``: an open registry (no auth), delete enabled.
- ``registry_htpasswd`` -> ``HtpasswdRegistry(address, username, password)``: the same with bcrypt htpasswd
  basic auth (``htpasswd -Bbn``).

Both skip when ``docker-registry`` (or ``htpasswd`` for the second) is missing, failing instead when ``CI``
is set. The registry reads every ``REGISTRY_*`` variable as a config override, so it is started with them
removed from its environment. It is stopped by pid at teardown.

``start_registry(root, auth=None)`` is the plain helper behind both, for tests that need to stop a registry
themselves (``RunningRegistry.stop()`` is idempotent).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import stop_process

REGISTRY_BINARY = "docker-registry"


@dataclass(frozen=True)
class HtpasswdRegistry:
    """A running registry that requires basic auth with ``username``/``password``."""

    address: str
    username: str
    password: str


@dataclass
class RunningRegistry:
    """A started ``docker-registry`` child; ``address`` is ``host:port``."""

    address: str
    process: subprocess.Popen[bytes]
    root: Path

    def stop(self) -> None:
        """Stop the registry (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        stop_process(self.process, timeout=5)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"registry tests cannot run: {reason}")
    pytest.skip(f"registry tests need {reason}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(root: Path, port: int, htpasswd: Path | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root / 'data'}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
    ]
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: shera-test", f"    path: {htpasswd}"]
    return "\n".join(lines) + "\n"


def _wait_ready(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            # 200 (open) or 401 (auth) both mean it is serving.
            httpx.get(f"http://{address}/v2/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"docker-registry did not answer on {address}:\n{log.read_text()[-2000:]}")


def start_registry(root: Path, *, auth: tuple[str, str] | None = None) -> RunningRegistry:
    """Start a registry with storage and config under ``root``; ``auth`` = (user, password) for htpasswd."""
    if shutil.which(REGISTRY_BINARY) is None:
        _unavailable("docker-registry (apt-get install docker-registry)")
    root.mkdir(parents=True, exist_ok=True)
    htpasswd: Path | None = None
    if auth is not None:
        if shutil.which("htpasswd") is None:
            _unavailable("htpasswd (apt-get install apache2-utils)")
        line = subprocess.run(
            ["htpasswd", "-Bbn", auth[0], auth[1]], capture_output=True, text=True, check=True
        ).stdout.strip()
        htpasswd = root / "htpasswd"
        htpasswd.write_text(line + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    for _attempt in range(3):
        port = free_port()
        config = root / "config.yml"
        config.write_text(_config(root, port, htpasswd))
        log = root / "registry.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        address = f"127.0.0.1:{port}"
        time.sleep(0.05)
        if process.poll() is not None and "address already in use" in log.read_text():
            continue  # lost the port race; try another
        _wait_ready(address, process, log)
        return RunningRegistry(address=address, process=process, root=root)
    pytest.fail("docker-registry could not bind a free port")
    raise AssertionError  # unreachable: pytest.fail raises


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """An open private registry on a free loopback port; yields ``"127.0.0.1:PORT"``."""
    running = start_registry(tmp_path / "registry")
    try:
        yield running.address
    finally:
        running.stop()


@pytest.fixture
def registry_htpasswd(tmp_path: Path) -> Iterator[HtpasswdRegistry]:
    """A private registry with bcrypt htpasswd basic auth (user ``adora``, a fixed test password)."""
    running = start_registry(tmp_path / "registry-auth", auth=("adora", "for-the-honor-of-grayskull"))
    try:
        yield HtpasswdRegistry(running.address, "adora", "for-the-honor-of-grayskull")
    finally:
        running.stop()
