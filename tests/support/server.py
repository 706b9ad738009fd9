"""Test support: a real ``shera up`` on a temp data dir, a git repository to push to, signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
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
    commit = {"id": sha, "message": message, "added": [], "removed": [], "modified": [".shera.yml"]}
    commit["author"] = {"name": "Adora", "email": "adora@example.test", "username": "adora"}
    payload["commits"] = [commit]
    payload["head_commit"] = commit
    return payload


def sign_github(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def shera_up(tmp_path: Path) -> Iterator[Server]:
    """``shera up`` on a temp data dir, git ``file://`` URLs allowed, a known bootstrap token."""
    data_dir = tmp_path / "data"
    token = "shera_bootstrap_" + os.urandom(8).hex()
    env = {
        **os.environ,
        "SHERA_BOOTSTRAP_TOKEN": token,
        "SHERA_GIT_SCHEMES": "file",
        "SHERA_LEASE_SECONDS": "10",
    }
    for name in ("SHERA_REDIS_URL", "SHERA_DATABASE_URL", "SHERA_PUBLIC_URL", "SHERA_CONFIG"):
        env.pop(name, None)
    log = tmp_path / "shera-up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shera", "up", "--port", "0", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
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
    server = Server(process, url, data_dir, token, lines)
    try:
        yield server
    finally:
        server.stop()
