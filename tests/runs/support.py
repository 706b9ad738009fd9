"""Test support for the runs core: a migrated database (SQLite, and PostgreSQL when
``SHERA_TEST_DATABASE_URL`` is set), projects, a private redis-server, a local git repository, hooks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis

from shera.forges.base import Hook
from shera.model.event import Event, EventKind
from shera.model.records import ProjectRecord
from shera.settings import Settings
from shera.store.db import Database
from shera.store.projects import create_project
from shera.store.tenants import create_tenant

PG_ENV = "SHERA_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh schema of the test PostgreSQL server for this session (dropped after), migrated once."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    import psycopg

    schema = f"shera_runs_{uuid.uuid4().hex[:10]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    db = Database(url)
    db.migrate()
    db.dispose()
    yield url
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database: SQLite in tmp_path, and the PostgreSQL schema of the session when configured."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'shera.db'}")
        db.migrate()
    else:
        db = Database(request.getfixturevalue("pg_url"))
    yield db
    db.dispose()


def make_project(db: Database, **overrides: Any) -> ProjectRecord:
    """A new tenant with one project (unique names, so tests can share a PostgreSQL schema)."""
    suffix = uuid.uuid4().hex[:10]
    tenant = create_tenant(db, f"t-{suffix}")
    values: dict[str, Any] = {
        "name": f"p-{suffix}",
        "forge": "github",
        "clone_url": "https://example.test/adora/app.git",
        "webhook_secret": "s3cret-hook",
    }
    values.update(overrides)
    return create_project(db, tenant.id, **values)


def push_hook(sha: str, *, branch: str = "main", delivery: str | None = None, **event: Any) -> Hook:
    """A push hook for ``sha`` on ``branch``."""
    ev = Event(
        kind=EventKind.PUSH,
        branch=branch,
        ref=f"refs/heads/{branch}",
        commit=sha,
        message="a change",
        author="adora",
        repo="adora/app",
    )
    return Hook("event", delivery or uuid.uuid4().hex, replace(ev, **event))


def sha_of(n: int) -> str:
    return f"{n:040x}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A private redis-server on a fixed free port; can be stopped and started again (same port)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is not installed")
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


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


def make_repo(root: Path, files: dict[str, str]) -> tuple[str, str]:
    """A bare repository (``file://`` URL) holding one commit of ``files``; returns (url, sha)."""
    work, bare = root / "work", root / "app.git"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for name, text in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "pipeline")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare.as_uri(), git(work, "rev-parse", "HEAD")


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "redis_url": "stub://",
        "git_schemes": "file",
        "lease_seconds": 30.0,
        "log_cap_bytes": 1024 * 1024,
    }
    values.update(overrides)
    return Settings(**values)
