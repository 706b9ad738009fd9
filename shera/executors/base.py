"""Executors layer: the protocol every step executor implements, and the data it exchanges with the runtime.

Call order for one workflow (the runtime guarantees it)::

    ex = ExecutorClass()                     # cheap, no side effects
    ex.prepare(ctx)                          # once: create workspace volume, network, pull images
    ex.start_service(svc, env) ...           # zero or more; returns when the service was started
    ex.run_step(step, env, out, timeout) ... # any number, from several threads at once (one stage's steps)
    ex.start_service(step, env)              # detached steps are started like services
    ex.teardown()                            # exactly once, also when prepare() or a step raised

Contracts:
- ``prepare`` may raise ``ExecutorError`` (permanent: missing podman, bad image) or ``BackendUnavailable``.
- ``run_step`` blocks until the step ended and returns its ``StepResult``; a non-zero exit is a result, not an
  exception. It raises only when the step could not be started at all. It must be safe to call concurrently.
- ``timeout`` (seconds) ends the step and everything it started; the result is ``killed`` with exit code 137
  ... unless the step ended by itself first. ``cancel`` being set has the same effect.
- Output bytes reach ``out`` in order, as they arrive, in chunks of any size; the runtime masks secrets.
- ``teardown`` is idempotent, safe after a failed or partial ``prepare``, and leaves nothing running: no
  process, container, network or volume of this workflow survives it.
"""

from __future__ import annotations

import base64
import shlex
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from shera.model.plan import StepPlan, Workspace
from shera.model.status import Status

OutputSink = Callable[[bytes], None]
"""Receives a step's raw output (stdout and stderr interleaved) chunk by chunk."""

KILLED_EXIT_CODE = 137


@dataclass(frozen=True, slots=True)
class WorkflowContext:
    """What an executor needs to know about the workflow it serves.

    ``workspace_dir`` is the host directory shared by all steps (bind-mounted at ``workspace.base`` in
    containers; the working directory of local steps). ``name`` is unique per run and safe as part of a
    container name (``[a-z0-9-]``). ``run_dir`` is private scratch space of the executor.
    """

    name: str
    workspace_dir: Path
    workspace: Workspace = field(default_factory=Workspace)
    run_dir: Path | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepResult:
    """How a step ended. ``error`` says why a step failed without running its command (e.g. missing image)."""

    status: Status
    exit_code: int
    oom_killed: bool = False
    error: str | None = None


@runtime_checkable
class Executor(Protocol):
    """Runs the steps of one workflow. One instance serves one workflow; see the module docstring."""

    name: str

    def prepare(self, ctx: WorkflowContext) -> None: ...

    def start_service(self, step: StepPlan, env: Mapping[str, str], out: OutputSink) -> None: ...

    def run_step(
        self,
        step: StepPlan,
        env: Mapping[str, str],
        out: OutputSink,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StepResult: ...

    def teardown(self) -> None: ...


def shell_script(commands: tuple[str, ...]) -> str:
    """The POSIX shell script a ``commands`` step runs: trace each command, stop at the first failure.

    Commands are the user's own shell text (that is their meaning); nothing else is interpolated into it.
    """
    lines = ["set -e"]
    for command in commands:
        lines.append(f"echo {shlex.quote('+ ' + command)}")
        lines.append(command)
    return "\n".join(lines) + "\n"


def encoded_script(commands: tuple[str, ...]) -> str:
    """``shell_script`` as base64, for passing through an environment variable without quoting issues."""
    return base64.b64encode(shell_script(commands).encode()).decode()
