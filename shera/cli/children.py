"""CLI layer: private child processes of ``shera up`` (redis-server, docker-registry; nginx later).

A ``Child`` is started with an argv list, waited for until its readiness probe answers, and stopped by pid
(SIGTERM, then SIGKILL after a grace period) when ``shera up`` exits — also on Ctrl-C. Children get their own
process group so a terminal's Ctrl-C reaches only ``shera up``, which stops them in order.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shera.errors import BackendUnavailable, ConfigError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Child:
    """One child process; ``ready`` is polled after start until it answers or ``start_timeout`` passes."""

    name: str
    argv: list[str]
    ready: Callable[[], bool]
    log_path: Path
    env: dict[str, str] | None = None
    start_timeout: float = 15.0
    stop_grace: float = 5.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        if shutil.which(self.argv[0]) is None and not Path(self.argv[0]).is_file():
            raise ConfigError(f"{self.name}: {self.argv[0]} is not installed (make setup installs it)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-800:]
                raise BackendUnavailable(f"{self.name} exited with {self.process.returncode}: {tail}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise BackendUnavailable(f"{self.name} did not become ready within {self.start_timeout:.0f} s")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, wait up to ``stop_grace``, then SIGKILL; idempotent."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass


def redis_child(data_dir: Path, port: int | None = None) -> tuple[Child, str]:
    """A private redis-server on a free loopback port that keeps nothing on disk; and its URL."""
    port = port or free_port()
    work = data_dir / "redis"
    work.mkdir(parents=True, exist_ok=True)
    argv = [
        "redis-server",
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--dir", str(work),
        "--protected-mode", "yes",
    ]  # fmt: skip
    child = Child("redis-server", argv, lambda: port_answers("127.0.0.1", port), work / "redis.log")
    return child, f"redis://127.0.0.1:{port}/0"


def registry_config(data_dir: Path, port: int) -> str:
    """The private registry's config: storage under ``data_dir/registry/data``, deletes enabled (retention
    deletes manifests by digest), loopback only, no auth (it is reachable from this machine only)."""
    return "\n".join(
        [
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {data_dir / 'registry' / 'data'}",
            "  delete:",
            "    enabled: true",
            "http:",
            f"  addr: 127.0.0.1:{port}",
            "",
        ]
    )


def registry_child(data_dir: Path, port: int | None = None) -> tuple[Child, str]:
    """A private distribution registry (Debian ``docker-registry``) on a free loopback port, data under
    ``data_dir/registry``; and its ``host:port``. Started without ``REGISTRY_*`` variables, which the
    registry would read as overrides of its config."""
    port = port or free_port()
    work = data_dir / "registry"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yml"
    config.write_text(registry_config(data_dir, port))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    argv = ["docker-registry", "serve", str(config)]
    child = Child(
        "docker-registry", argv, lambda: port_answers("127.0.0.1", port), work / "registry.log", env
    )
    return child, f"127.0.0.1:{port}"
