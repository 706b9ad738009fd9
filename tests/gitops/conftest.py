"""Fixtures of the gitops tests: git repositories in tmp_path, served as file:// URLs and by git daemon."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from shera.gitops.mirror import Mirrors
from tests.support.processes import stop_process
from tests.support.registry import free_port


def quiet_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for the tests' own git commands, untouched by this machine's git config."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.invalid",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.invalid",
        **extra,
    }


def git(*args: str, env: Mapping[str, str], cwd: Path | None = None) -> str:
    """Run the tests' own git command (checked); stdout stripped."""
    done = subprocess.run(
        ["git", *args], env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
    return done.stdout.strip()


@dataclass(frozen=True)
class SourceRepo:
    """A non-bare repository tests commit to; mirrors fetch from it."""

    path: Path
    env: Mapping[str, str]

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def git(self, *args: str) -> str:
        return git("-C", str(self.path), *args, env=self.env)

    def commit(self, files: Mapping[str, str | None], message: str = "change") -> str:
        """Write (or, for ``None``, delete) ``files``, commit everything, return the new sha."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")


@pytest.fixture
def served(tmp_path: Path) -> Path:
    """The directory git daemon serves (its ``--base-path``)."""
    path = tmp_path / "served"
    path.mkdir()
    return path


@pytest.fixture
def make_repo(served: Path, tmp_path: Path) -> Callable[[str], SourceRepo]:
    """Makes a repository ``served/<name>`` on branch ``main`` with one commit (``README``)."""
    env = quiet_env(tmp_path / "tester-home")

    def make(name: str) -> SourceRepo:
        path = served / name
        git("init", "--quiet", "-b", "main", str(path), env=env)
        repo = SourceRepo(path, env)
        repo.commit({"README": f"{name}\n"}, "initial")
        return repo

    return make


@pytest.fixture
def source(make_repo: Callable[[str], SourceRepo]) -> SourceRepo:
    return make_repo("src")


@pytest.fixture
def mirrors_factory(tmp_path: Path) -> Callable[..., Mirrors]:
    """``make(*schemes, timeout=60)``: a ``Mirrors`` under ``tmp_path/mirrors`` allowing ``schemes``."""

    def make(*schemes: str, timeout: float = 60.0) -> Mirrors:
        return Mirrors(tmp_path / "mirrors", frozenset(schemes), timeout=timeout)

    return make


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"git daemon tests cannot run: {reason}")
    pytest.skip(f"git daemon tests need {reason}")


@pytest.fixture
def git_daemon(served: Path, tmp_path: Path) -> Iterator[str]:
    """``git://127.0.0.1:<port>``: a git daemon exporting every repository under ``served``."""
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=False).stdout
    if not (Path(exec_path.strip()) / "git-daemon").is_file():
        _unavailable("git-daemon (apt-get install git)")
    port = free_port()
    argv = ["git", "daemon", f"--base-path={served}", "--export-all", "--reuseaddr", "--informative-errors"]
    argv += ["--listen=127.0.0.1", f"--port={port}"]
    daemon = subprocess.Popen(
        argv, env=quiet_env(tmp_path / "daemon-home"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    _unavailable(
                        f"a git daemon that starts: {daemon.stderr.read() if daemon.stderr else ''!r}"
                    )
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}"
    finally:
        stop_process(daemon)
        if daemon.stderr:
            daemon.stderr.close()
