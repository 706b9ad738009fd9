"""Runs layer: the setup of a server run — pick the executor, check out the sha, load and plan the pipeline.

Everything that goes wrong here is the user's to read: ``SetupFailed`` carries a short ``reason`` for the run
row and the located problems have already been written to the run's ``setup`` log.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from shera.errors import ConfigError, PipelineError, SheraError
from shera.executors.base import Executor
from shera.model.event import Event
from shera.model.plan import Plan
from shera.model.records import ProjectRecord, RunRecord
from shera.pipeline.loader import load_path
from shera.pipeline.planner import build_plan
from shera.plugins import EXECUTORS, Registry
from shera.runs.eventdata import event_from_data

Checkout = Callable[[str, str, Path], None]
"""``checkout(clone_url, sha, dest)``: the exact commit into ``dest`` (``gitops.mirror.Mirrors.checkout``)."""


class SetupLog(Protocol):
    def __call__(self, line: str) -> None: ...


class SetupFailed(Exception):
    """The run cannot start; ``reason`` goes to the run row, the details are in the setup log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    event: Event
    plan: Plan
    executor: type[Executor]
    source: Path


def executor_for(project: ProjectRecord, default: str, registry: Registry, say: SetupLog) -> type[Executor]:
    """The project's executor class; ``local`` (steps on the worker's own host) only for trusted projects."""
    name = project.executor or default
    if name == "local" and not project.trusted:
        say(
            "error: executor 'local' runs steps directly on the worker's host; only projects marked "
            "trusted may use it (set the project's executor to podman, or mark it trusted)"
        )
        raise SetupFailed("executor_refused")
    try:
        cls: type[Executor] = registry.get(EXECUTORS, name)
    except ConfigError as exc:
        say(f"error: {exc}")
        raise SetupFailed("executor_unknown") from exc
    return cls


def prepare(
    run: RunRecord,
    project: ProjectRecord,
    *,
    workspace: Path,
    checkout: Checkout,
    registry: Registry,
    default_executor: str,
    say: SetupLog,
    variables: Mapping[str, str] | None = None,
) -> Prepared:
    """Executor, checkout of ``run.sha`` into ``workspace/src``, and the plan for the run's event."""
    executor = executor_for(project, default_executor, registry, say)
    source = workspace / "src"
    if source.exists():
        shutil.rmtree(source)
    workspace.mkdir(parents=True, exist_ok=True)
    say(f"checking out {run.sha} ({run.ref})")
    try:
        checkout(project.clone_url, run.sha, source)
    except SheraError as exc:
        say(f"error: cannot check out {run.sha}: {exc}")
        raise SetupFailed("checkout_failed") from exc
    spec = load_path(source, registry=registry)  # not a fresh entry-point scan (~15 ms) per run
    for problem in spec.problems:
        say(str(problem))
    if spec.has_errors:
        say("error: the pipeline has errors; nothing was run")
        raise SetupFailed("pipeline_invalid")
    event = dataclasses.replace(event_from_data(run.event_data), number=run.number)
    try:
        plan = build_plan(spec, event, env=variables)
    except PipelineError as exc:
        shown = {str(problem) for problem in spec.problems}
        for problem in exc.problems:
            if str(problem) not in shown:
                say(str(problem))
        say(f"error: {exc}")
        raise SetupFailed("pipeline_invalid") from exc
    runnable = [wf.label for wf in plan.workflows if not wf.skipped]
    say(f"planned {len(runnable)} workflow(s): {', '.join(runnable) or 'none (no when matched)'}")
    return Prepared(event=event, plan=plan, executor=executor, source=source)
