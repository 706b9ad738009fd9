"""Test support for the runs core: projects, a private redis-server, a local git repository, hooks
(the migrated databases come from ``tests.support.database``)."""

from __future__ import annotations

import os
import shutil
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
from tests.support.processes import stop_process
from tests.support.registry import free_port
from tests.support.server import make_repo as make_app_repo


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
        if self.process is not None:
            stop_process(self.process)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def make_repo(root: Path, files: dict[str, str]) -> tuple[str, str]:
    """A bare repository (``file://`` URL) holding one commit of ``files``; returns (url, sha)."""
    repo = make_app_repo(root)
    return repo.url, repo.commit(files, "pipeline")


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
