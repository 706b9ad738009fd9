"""Tests of step working-directory resolution for host and container."""

from __future__ import annotations

from pathlib import Path

import pytest

from shera.errors import ExecutorError
from shera.executors.workdir import container_workdir, host_path_of, host_workdir
from shera.model.plan import Workspace


def test_host_workdir_stays_inside_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    assert host_workdir(ws, None) == ws.resolve()
    assert host_workdir(ws, "a/b") == (ws / "a" / "b").resolve()
    assert (ws / "a" / "b").is_dir()
    assert host_workdir(ws, "a/../c") == (ws / "c").resolve()
    assert host_workdir(ws, str(ws / "abs")) == (ws / "abs").resolve()
    for bad in ("..", "../x", "/etc", "a/../../x"):
        with pytest.raises(ExecutorError, match="outside the workspace"):
            host_workdir(ws, bad)


def test_container_workdir_follows_the_workspace() -> None:
    ws = Workspace(base="/woodpecker", path="src/repo")
    assert container_workdir(ws, None) == "/woodpecker/src/repo"
    assert container_workdir(ws, "sub") == "/woodpecker/src/repo/sub"
    assert container_workdir(ws, "..") == "/woodpecker/src"
    assert container_workdir(ws, "/opt/app") == "/opt/app"
    assert container_workdir(Workspace(base="/w", path=""), None) == "/w"
    with pytest.raises(ExecutorError, match="outside the workspace"):
        container_workdir(ws, "../../../etc")
    with pytest.raises(ExecutorError, match="outside the workspace"):
        container_workdir(Workspace(base="/w", path="src"), "../../wx")


def test_host_path_of_maps_only_paths_inside_the_mount() -> None:
    ws = Workspace(base="/woodpecker", path="src")
    assert host_path_of(Path("/h"), ws, "/woodpecker") == Path("/h")
    assert host_path_of(Path("/h"), ws, "/woodpecker/src/x") == Path("/h/src/x")
    assert host_path_of(Path("/h"), ws, "/woodpeckerx") is None
    assert host_path_of(Path("/h"), ws, "/opt") is None
