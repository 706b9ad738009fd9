"""Runtime layer: the per-workflow directories of a run and the clone step that fills the workspace.

``shera exec`` runs a working tree that is already on disk, so "cloning" copies that directory (``.git``
included, so git commands in steps work; symlinks are copied as symlinks) into the workflow's workspace.
The server's git-mirror checkout replaces this in a later version.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from shera.errors import ExecutorError
from shera.model.plan import Workspace


@dataclass(frozen=True, slots=True)
class WorkflowDirs:
    """``workspace``: shared by the workflow's steps; ``run``: private scratch space of the executor."""

    workspace: Path
    run: Path


def safe_name(name: str, taken: set[str]) -> str:
    """``name`` reduced to ``[a-z0-9-]`` (container-name safe), made unique against ``taken`` (updated)."""
    base = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:40] or "workflow"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def make_dirs(work_dir: Path, name: str) -> WorkflowDirs:
    """Create (empty) the directories of workflow ``name`` under ``work_dir``."""
    root = work_dir / name
    dirs = WorkflowDirs(workspace=root / "workspace", run=root / "run")
    try:
        dirs.workspace.mkdir(parents=True, exist_ok=True)
        dirs.run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExecutorError(f"cannot create the workflow directories under {work_dir}: {exc}") from exc
    return dirs


HOST_EXECUTORS = frozenset({"local"})
"""Executors whose steps run on this machine in the shared directory itself (see ``executors.local``);
container executors mount it at ``workspace.base`` and work in ``workspace.directory``."""


@dataclass(frozen=True, slots=True)
class StepWorkspace:
    """``source``: the host directory the clone fills; ``seen_as``: that directory as steps see it
    (``CI_WORKSPACE``)."""

    source: Path
    seen_as: str


def step_workspace(executor_name: str, workspace_dir: Path, workspace: Workspace) -> StepWorkspace:
    """Where the repository goes so that steps find it in their working directory."""
    if executor_name in HOST_EXECUTORS:
        return StepWorkspace(workspace_dir, str(workspace_dir))
    source = workspace_dir / workspace.path if workspace.path else workspace_dir
    return StepWorkspace(source, workspace.directory)


def clone_source(source_dir: Path, dest: Path) -> int:
    """Copy the tree at ``source_dir`` into ``dest`` (created if needed); return the number of files.

    Raises ``ExecutorError`` when the source is missing or a file cannot be copied.
    """
    if not source_dir.is_dir():
        raise ExecutorError(f"cannot clone: {source_dir} is not a directory")
    if dest.resolve().is_relative_to(source_dir.resolve()):
        raise ExecutorError(f"cannot clone {source_dir} into {dest}: the workspace is inside the source")
    try:
        shutil.copytree(source_dir, dest, symlinks=True, dirs_exist_ok=True)
    except (OSError, shutil.Error) as exc:
        raise ExecutorError(f"cannot copy {source_dir} into the workspace: {exc}") from exc
    return sum(1 for path in dest.rglob("*") if not path.is_dir())
