"""Test support: a real ``shera up`` on a temp data dir, a git repository to push to, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.corpus import CORPUS
from tests.support.processes import stop_process


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Adora",
        "GIT_AUTHOR_EMAIL": "adora@example.test",
        "GIT_COMMITTER_NAME": "Adora",
        "GIT_COMMITTER_EMAIL": "adora@example.test",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@dataclass
class AppRepo:
    """A work tree whose pushes go to a bare repository served as ``file://``."""

    work: Path
    bare: Path

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, files: dict[str, str], message: str) -> str:
        for name, text in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "HEAD:refs/heads/main")
        return git(self.work, "rev-parse", "HEAD")


def make_repo(root: Path) -> AppRepo:
    bare, work = root / "app.git", root / "app"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    git(work, "remote", "add", "origin", str(bare))
    return AppRepo(work, bare)


def github_push(repo_url: str, sha: str, before: str, message: str, branch: str = "main") -> dict[str, Any]:
    """A GitHub push payload: a recorded one from the corpus with our repository, commit and branch."""
    payload: dict[str, Any] = json.loads((CORPUS / "webhooks" / "github" / "push__2.json").read_text())
    payload.update({"ref": f"refs/heads/{branch}", "before": before, "after": sha, "deleted": False})
    payload["created"] = before == "0" * 40
    repo = payload["repository"]
    repo.update({"clone_url": repo_url, "default_branch": "main", "full_name": "adora/app", "name": "app"})
    commit: dict[str, Any] = {
        "id": sha,
        "message": message,
        "added": [],
        "removed": [],
        "modified": [".shera.yml"],
    }
    commit["author"] = {"name": "Adora", "email": "adora@example.test", "username": "adora"}
    payload["commits"] = [commit]
    payload["head_commit"] = commit
    return payload


def sign_github(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_github_push(hook_url: str, secret: str, payload: dict[str, Any], delivery: str) -> httpx.Response:
    """POST a signed GitHub push delivery to ``hook_url``, the way GitHub sends it."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign_github(body, secret),
    }
    return httpx.post(hook_url, content=body, headers=headers, timeout=30)


@dataclass
class Server:
    """A running ``shera up``; ``api`` is an httpx client with the bootstrap (platform-admin) token."""

    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    admin_token: str
    lines: list[str] = field(default_factory=list)

    def api(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token or self.admin_token}"}, timeout=30
        )

    def wait_run(self, token: str, run_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.api(token) as client:
            while True:
                run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
                if run["status"] in ("success", "failure", "killed") or time.monotonic() > deadline:
                    return run
                time.sleep(0.1)

    def tenant_token(self, name: str, role: str = "admin") -> str:
        """A new tenant and a token of ``role`` in it."""
        with self.api() as admin:
            tenant = admin.post("/api/v1/tenants", json={"name": name}).raise_for_status().json()
            reply = admin.post(f"/api/v1/tenants/{tenant['id']}/tokens", json={"name": "ci", "role": role})
            return str(reply.raise_for_status().json()["token"])

    def create_project(self, token: str, repo_url: str, name: str = "app") -> dict[str, Any]:
        """A trusted GitHub project on ``repo_url`` run by the local executor."""
        body = {
            "name": name,
            "forge": "github",
            "clone_url": repo_url,
            "default_branch": "main",
            "executor": "local",
            "trusted": True,
        }
        with self.api(token) as client:
            project: dict[str, Any] = client.post("/api/v1/projects", json=body).raise_for_status().json()
        return project

    def stop(self) -> int:
        return stop_process(self.process, timeout=30)


def start_shera_up(tmp_path: Path, env: dict[str, str] | None = None) -> Server:
    """Start ``shera up`` on ``tmp_path/data`` (``file://`` git allowed, a known bootstrap token) and wait for
    its URL; ``env`` adds or overrides variables (e.g. ``SHERA_REDIS_URL`` for a Redis the test controls).
    The caller stops it (``Server.stop``)."""
    data_dir = tmp_path / "data"
    token = "shera_bootstrap_" + os.urandom(8).hex()
    full_env = {
        **os.environ,
        "SHERA_BOOTSTRAP_TOKEN": token,
        "SHERA_GIT_SCHEMES": "file",
        "SHERA_LEASE_SECONDS": "10",
    }
    for name in ("SHERA_REDIS_URL", "SHERA_DATABASE_URL", "SHERA_PUBLIC_URL", "SHERA_CONFIG"):
        full_env.pop(name, None)
    full_env.update(env or {})
    log = tmp_path / "shera-up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shera", "up", "--port", "0", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
        )
    url = ""
    deadline = time.monotonic() + 60
    while not url and time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text().splitlines():
            if line.startswith("She-Ra is up at "):
                url = line.removeprefix("She-Ra is up at ").strip()
        time.sleep(0.05)
    lines = log.read_text().splitlines()
    if not url:
        process.kill()
        process.wait()
        pytest.fail("shera up did not start:\n" + "\n".join(lines))
    return Server(process, url, data_dir, token, lines)


@pytest.fixture
def shera_up(tmp_path: Path) -> Iterator[Server]:
    """``shera up`` on a temp data dir, git ``file://`` URLs allowed, a known bootstrap token."""
    server = start_shera_up(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RedisServer:
    """A redis-server the test owns on a fixed loopback port: it can be stopped and started again there."""

    port: int
    work: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", str(self.work)]  # fmt: skip
        with (self.work / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        pytest.fail("redis-server did not listen within 10 s")

    def stop(self) -> None:
        """Stop it by pid (SIGTERM; it keeps nothing on disk, so it comes back empty)."""
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server on a free loopback port, stopped at the end."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (make setup installs it)")
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = RedisServer(port, tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def shera_up_own_redis(tmp_path: Path, own_redis: RedisServer) -> Iterator[tuple[Server, RedisServer]]:
    """``shera up`` using ``own_redis`` (``SHERA_REDIS_URL``) instead of a private Redis child."""
    server = start_shera_up(tmp_path, {"SHERA_REDIS_URL": own_redis.url})
    try:
        yield server, own_redis
    finally:
        server.stop()
