"""Runtime layer: the per-workflow directories of a run and the clone step that fills the workspace.

"Cloning" fills the workflow's workspace from a working tree already on disk (``.git`` included, so git
commands in steps work; symlinks stay symlinks): ``shera exec`` names the user's tree, which is always
copied; a server run names its private checkout of the commit (``SourceTree(disposable=True)``), which the
last clone step of the run takes by renaming it instead of copying (nothing else reads it afterwards).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
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
    _check_source(source_dir, dest)
    copied = 0

    def copy(src: str, dst: str) -> object:
        nonlocal copied
        copied += 1
        return shutil.copy2(src, dst)

    try:
        shutil.copytree(source_dir, dest, symlinks=True, dirs_exist_ok=True, copy_function=copy)
    except (OSError, shutil.Error) as exc:
        raise ExecutorError(f"cannot copy {source_dir} into the workspace: {exc}") from exc
    return copied


def _check_source(source_dir: Path, dest: Path) -> None:
    if not source_dir.is_dir():
        raise ExecutorError(f"cannot clone: {source_dir} is not a directory")
    if dest.resolve().is_relative_to(source_dir.resolve()):
        raise ExecutorError(f"cannot clone {source_dir} into {dest}: the workspace is inside the source")


class SourceTree:
    """The tree clone steps fill workspaces from, shared by the workflows of one run (thread-safe).

    ``clones`` is how many clone steps the run may execute. With ``disposable`` the tree belongs to the run
    alone: the clone step that is the last of them renames the tree onto its (empty) workspace instead of
    copying it. If some clone step never runs (its workflow failed earlier), the others copy: slower, never
    wrong. Otherwise the tree is only ever read.
    """

    def __init__(self, path: Path, *, clones: int, disposable: bool = False) -> None:
        self.path = path
        self.disposable = disposable
        self._left = clones
        self._lock = threading.Lock()

    def fill(self, dest: Path) -> str:
        """Put the tree into ``dest``; returns what was done, for the clone step's log."""
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if self.disposable and last:
            _check_source(self.path, dest)
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.is_dir() and not any(dest.iterdir()):
                    dest.rmdir()
                os.rename(self.path, dest)
            except OSError:
                pass  # another filesystem or a non-empty workspace: copy below
            else:
                return f"moved the checkout {self.path} into the workspace\n"
        count = clone_source(self.path, dest)
        return f"copied {count} files from {self.path}\n"
