"""Benchmarks: a real ``shera up`` on a temp data dir (SQLite, private Redis) and its process tree's memory.

``start_up`` runs ``python -m shera up --port 0`` with a known bootstrap token and ``file://`` git URLs,
waits for its "She-Ra is up at" line, and returns an ``Up``; ``Up.stop`` ends it by pid (SIGTERM, then
SIGKILL), and ``shera up`` stops its own worker and Redis children. ``tree_memory`` reads the resident
memory of a process and all its descendants from ``/proc``, both as RSS and as PSS (see there).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import stop_process

TERMINAL = ("success", "failure", "killed", "skipped")


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible in ``/proc``."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def _kib_field(path: str, key: str) -> int:
    """The ``key: N kB`` line of a ``/proc`` file, in bytes; 0 when the process is gone."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_bytes(pid: int) -> int:
    return _kib_field(f"/proc/{pid}/status", "VmRSS:")


def pss_bytes(pid: int) -> int:
    """Proportional set size: the process's private resident pages plus its share of the pages it shares
    with other processes (a page mapped by 3 processes counts 1/3 in each)."""
    return _kib_field(f"/proc/{pid}/smaps_rollup", "Pss:")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


ROLES = (
    ("shera worker", "worker"),
    ("redis-server", "redis"),
    ("docker-registry", "registry"),
    ("nginx", "nginx"),
)


def tree_memory(pid: int) -> dict[str, tuple[int, int]]:
    """(RSS, PSS) in bytes by process role of the tree under ``pid``: ``api`` (``pid`` itself), ``worker``,
    ``redis``, ``registry`` (the private image registry), ``nginx`` (the embedded balancer, master and
    workers), ``other`` (steps and git commands running at that moment).

    Summed over processes, RSS counts every shared page once per process that maps it (the Python
    interpreter's text, shared libraries, nginx's workers forked from its master); the sum of PSS counts
    each page once, so it is the memory the tree really holds. Both are reported."""
    memory = {role: (0, 0) for role in ("api", "worker", "redis", "registry", "nginx", "other")}
    for proc in descendants(pid):
        line = cmdline(proc)
        role = "api" if proc == pid else next((r for key, r in ROLES if key in line), "other")
        rss, pss = memory[role]
        memory[role] = (rss + rss_bytes(proc), pss + pss_bytes(proc))
    return memory


@dataclass
class Up:
    """A running ``shera up``; ``client`` speaks to its API with the bootstrap (platform-admin) token."""

    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    token: str

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token or self.token}"}, timeout=60
        )

    def worker_pid(self) -> int | None:
        for proc in descendants(self.process.pid):
            if "shera worker" in cmdline(proc):
                return proc
        return None

    def memory(self) -> dict[str, tuple[int, int]]:
        return tree_memory(self.process.pid)

    def stop(self) -> None:
        """SIGTERM ``shera up`` (it stops its children); then SIGKILL, by pid, what is left of its tree."""
        tree = descendants(self.process.pid)
        stop_process(self.process, timeout=30)
        for pid in tree[1:]:
            if Path(f"/proc/{pid}").exists() and _parent(pid) in (1, *tree):
                os.kill(pid, signal.SIGKILL)


def start_up(root: Path, env: dict[str, str] | None = None, command: list[str] | None = None) -> Up:
    """``shera up`` on ``root/data``; its output goes to ``root/shera-up.log``. ``command`` replaces
    ``python -m shera`` (e.g. a profiling wrapper)."""
    data_dir = root / "data"
    token = "shera_bench_" + os.urandom(8).hex()
    full_env = {**os.environ, "SHERA_BOOTSTRAP_TOKEN": token, "SHERA_GIT_SCHEMES": "file", **(env or {})}
    for name in ("SHERA_REDIS_URL", "SHERA_DATABASE_URL", "SHERA_PUBLIC_URL", "SHERA_CONFIG"):
        full_env.pop(name, None)
    log = root / "shera-up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "shera"]), "up", "--port", "0", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("She-Ra is up at "):
                return Up(process, line.removeprefix("She-Ra is up at ").strip(), data_dir, token)
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
    raise RuntimeError("shera up did not start:\n" + log.read_text(errors="replace")[-2000:])


@contextmanager
def running_floor(root: Path, secret: str, steps: Sequence[str] = ()) -> Iterator[str]:
    """``bench.floor`` on a free port (its database and log under ``root``); yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    argv = [sys.executable, "-m", "bench.floor", "--port", str(port), "--db", str(root / "floor.db")]
    argv += ["--secret", secret, *(arg for step in steps for arg in ("--step", step))]
    with (root / "floor.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def make_project(up: Up, name: str, clone_url: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """A tenant ``name`` with an admin token, and a trusted local-executor GitHub project in it."""
    with up.client() as admin:
        tenant = admin.post("/api/v1/tenants", json={"name": name}).raise_for_status().json()
        token = str(
            admin.post(f"/api/v1/tenants/{tenant['id']}/tokens", json={"name": "bench", "role": "admin"})
            .raise_for_status()
            .json()["token"]
        )
    body: dict[str, Any] = {"name": name, "forge": "github", "clone_url": clone_url, "default_branch": "main"}
    body.update({"executor": "local", "trusted": True, **fields})
    with up.client(token) as client:
        project: dict[str, Any] = client.post("/api/v1/projects", json=body).raise_for_status().json()
    return token, project


def list_all_runs(up: Up, token: str, project_id: str) -> list[dict[str, Any]]:
    """Every run of the project (the API pages by at most 500)."""
    runs: list[dict[str, Any]] = []
    with up.client(token) as client:
        while True:
            params = {"limit": 500, "offset": len(runs)}
            page = client.get(f"/api/v1/projects/{project_id}/runs", params=params).raise_for_status().json()
            runs.extend(page["data"])
            if len(page["data"]) < 500:
                return runs
