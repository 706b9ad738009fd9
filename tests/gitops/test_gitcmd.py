"""Tests of the hardened git environment and of error translation, with real git processes."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shera.gitops.errors import GitError, GitUnavailable
from shera.gitops.gitcmd import GitRunner, hardened_env, trim
from shera.gitops.mirror import Mirrors
from tests.gitops.conftest import SourceRepo, quiet_env
from tests.support.registry import free_port

MakeMirrors = Callable[..., Mirrors]


def test_the_environment_is_built_from_nothing(tmp_path: Path) -> None:
    machine = {
        "PATH": "/usr/bin",
        "https_proxy": "http://proxy:3128",
        "GIT_DIR": "/elsewhere",
        "GIT_SSH_COMMAND": "evil",
        "GIT_CONFIG_PARAMETERS": "'protocol.allow'='always'",
        "GIT_TEMPLATE_DIR": "/tpl",
        "SECRET_TOKEN": "x",
        "HOME": "/root",
    }
    env = hardened_env(tmp_path, frozenset({"https", "ssh"}), base=machine)

    assert env["PATH"] == "/usr/bin"
    assert env["https_proxy"] == "http://proxy:3128"
    assert env["HOME"] == str(tmp_path)
    assert "GIT_DIR" not in env
    assert "GIT_CONFIG_PARAMETERS" not in env
    assert "GIT_TEMPLATE_DIR" not in env
    assert "SECRET_TOKEN" not in env
    assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ASKPASS"] == ""
    config = [
        (env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"])
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    ]
    assert config[0] == ("protocol.allow", "never")
    assert ("protocol.https.allow", "always") in config
    assert ("protocol.ssh.allow", "always") in config
    assert not any(
        key in ("protocol.file.allow", "protocol.ext.allow", "protocol.git.allow") for key, _ in config
    )
    assert ("core.hooksPath", "/dev/null") in config
    assert ("submodule.recurse", "false") in config


def test_protocol_policy_blocks_ext_even_if_a_url_got_past_the_checks(
    source: SourceRepo, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    url = f"ext::sh -c touch% {marker}"
    # Control: git with ext allowed runs the command
    subprocess.run(
        ["git", "-c", "protocol.ext.allow=always", "ls-remote", url],
        env=quiet_env(tmp_path),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert marker.exists()
    marker.unlink()

    runner = GitRunner(tmp_path, frozenset({"https", "ssh", "git", "file"}), timeout=30)
    with pytest.raises(GitError, match="transport 'ext' not allowed"):
        runner.run(["ls-remote", url], what="ls-remote", network=True)
    assert not marker.exists()

    only_git = GitRunner(tmp_path, frozenset({"git"}), timeout=30)
    with pytest.raises(GitError, match="transport 'file' not allowed"):
        only_git.run(["ls-remote", source.url], what="ls-remote", network=True)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_a_remote_that_never_answers_times_out_as_unavailable(
    silent_server: int, mirrors_factory: MakeMirrors
) -> None:
    mirrors = mirrors_factory("git", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(GitUnavailable, match=r"timed out after 1 s"):
        mirrors.fetch(f"git://127.0.0.1:{silent_server}/repo")
    assert time.monotonic() - started < 15


def test_unreachable_is_temporary_and_missing_is_permanent(
    git_daemon: str, source: SourceRepo, mirrors_factory: MakeMirrors
) -> None:
    mirrors = mirrors_factory("git")
    with pytest.raises(GitUnavailable, match="Connection refused"):
        mirrors.fetch(f"git://127.0.0.1:{free_port()}/src")
    with pytest.raises(GitError, match="no such repository") as caught:
        mirrors.fetch(f"{git_daemon}/missing")
    assert not isinstance(caught.value, GitUnavailable)
    assert mirrors.fetch(f"{git_daemon}/src").is_dir()


def test_credentials_never_appear_in_errors(mirrors_factory: MakeMirrors) -> None:
    mirrors = mirrors_factory("https", timeout=30.0)
    port = free_port()
    for url in (
        f"https://alice:s3cr3t@127.0.0.1:{port}/o/r.git",
        f"https://ghp_t0ken@127.0.0.1:{port}/o/r.git",
    ):
        with pytest.raises(GitUnavailable) as caught:
            mirrors.fetch(url)
        message = str(caught.value)
        assert "s3cr3t" not in message
        assert "ghp_t0ken" not in message
        assert f"127.0.0.1:{port}" in message
        assert caught.value.__cause__ is None or "s3cr3t" not in str(caught.value.__cause__)


def test_trim_keeps_the_end_without_hints() -> None:
    stderr = (
        "hint: do this\n" + "\n".join(f"line {i}" for i in range(30)) + "\nfatal: https://u:p@h/ failed\n"
    )
    text = trim(stderr)
    assert "hint" not in text
    assert text.splitlines()[-1] == "fatal: https://u:***@h/ failed"
    assert len(text.splitlines()) == 10
