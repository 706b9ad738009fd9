"""Runtime layer: what the parts of one run share (options of the run, the state of one workflow)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shera.executors.base import Executor, WorkflowContext
from shera.model.event import Event
from shera.model.plan import WorkflowPlan
from shera.runtime.environment import EnvironmentBuilder
from shera.runtime.masking import SecretMasker
from shera.runtime.output import StepOutput
from shera.runtime.reporter import Reporter
from shera.runtime.workspace import SourceTree, StepWorkspace
from shera.steps.runner import StepRunner

ExecutorFactory = Callable[[WorkflowPlan], Executor]
"""Makes the (fresh) executor that serves one workflow."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything of a run that every workflow uses; immutable, shared between threads."""

    executor_factory: ExecutorFactory
    environment: EnvironmentBuilder
    masker: SecretMasker
    reporter: Reporter
    cancel: threading.Event
    work_dir: Path
    source: SourceTree | None = None
    step_timeout: float | None = None
    runners: Mapping[str, StepRunner] = field(default_factory=dict)
    """Runners of She-Ra step kinds by ``uses:`` name; a kind without one fails its step clearly."""
    event: Event = field(default_factory=Event)
    secrets: Mapping[str, str] = field(default_factory=dict)
    data_dir: Path | None = None
    project: str = "local"
    run_id: str | None = None


@dataclass(slots=True)
class WorkflowRun:
    """One workflow being run: its plan, executor and context; ``state`` is success until a step fails."""

    plan: WorkflowPlan
    options: RunOptions
    executor: Executor
    context: WorkflowContext
    workspace: StepWorkspace
    state: str = "success"
    open_sinks: list[StepOutput] = field(default_factory=list)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What She-Ra step kinds of this workflow produced, by step name (later steps may read it)."""
    """Output sinks of services and detached steps: closed after teardown."""
