"""Executors layer: where a step runs — its ``directory`` resolved against the workspace, escapes refused."""

from __future__ import annotations

import posixpath
from pathlib import Path

from shera.errors import ExecutorError
from shera.model.plan import Workspace

NOT_STARTED_EXIT_CODE = 1
"""Exit code reported for a step that failed before its command ran (its ``StepResult.error`` says why)."""


def host_workdir(workspace_dir: Path, directory: str | None) -> Path:
    """The host directory a local step runs in: ``workspace_dir`` or ``directory`` inside it (created).

    ``directory`` is relative to the workspace (an absolute one must already lie inside it); anything that
    resolves outside the workspace, also through a symlink, raises ``ExecutorError``.
    """
    root = workspace_dir.resolve()
    if not directory:
        return root
    target = (root / directory).resolve()
    if not target.is_relative_to(root):
        raise ExecutorError(f"directory {directory!r} is outside the workspace {str(root)!r}")
    target.mkdir(parents=True, exist_ok=True)
    return target


def container_workdir(workspace: Workspace, directory: str | None) -> str:
    """The working directory inside a container: ``workspace.directory`` (+ ``directory``).

    An absolute ``directory`` is used as is (Woodpecker allows any container path); a relative one may
    not climb out of ``workspace.base``.
    """
    base = posixpath.normpath(workspace.base)
    here = posixpath.normpath(workspace.directory)
    if not directory:
        return here
    if directory.startswith("/"):
        return posixpath.normpath(directory)
    target = posixpath.normpath(posixpath.join(here, directory))
    if target != base and not target.startswith(base.rstrip("/") + "/"):
        raise ExecutorError(f"directory {directory!r} is outside the workspace {base!r}")
    return target


def host_path_of(workspace_dir: Path, workspace: Workspace, container_path: str) -> Path | None:
    """The host path behind ``container_path`` when it lies in the bind-mounted workspace, else ``None``."""
    base = posixpath.normpath(workspace.base)
    if container_path == base:
        return workspace_dir
    prefix = base.rstrip("/") + "/"
    if not container_path.startswith(prefix):
        return None
    return workspace_dir / container_path[len(prefix) :]
