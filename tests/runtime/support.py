"""Helpers for runtime tests: plan builders, a recording reporter, a stub-executor factory."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from shera.executors.stub import StubExecutor
from shera.model.event import Event
from shera.model.plan import Plan, StepKind, StepPlan, WorkflowPlan
from shera.runtime.engine import run_plan
from shera.runtime.results import RunResult, StepOutcome, WorkflowResult


def cmd(name: str, *, env: Mapping[str, str] | None = None, **kw: object) -> StepPlan:
    return StepPlan(
        name=name,
        kind=StepKind.COMMANDS,
        image="dummy",
        commands=(f"echo {name}",),
        environment=env or {},
        **kw,
    )  # type: ignore[arg-type]


def workflow(name: str, *stages: tuple[StepPlan, ...], **kw: object) -> WorkflowPlan:
    return WorkflowPlan(name=name, stages=tuple(stages), **kw)  # type: ignore[arg-type]


class Recorder:
    """A thread-safe Reporter that keeps every event and the output per step."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.output: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def on_workflow_start(self, workflow: str) -> None:
        with self.lock:
            self.events.append(("workflow_start", workflow, ""))

    def on_step_start(self, workflow: str, step: str) -> None:
        with self.lock:
            self.events.append(("step_start", workflow, step))

    def on_output(self, workflow: str, step: str, data: bytes) -> None:
        with self.lock:
            self.output[step] = self.output.get(step, b"") + data

    def on_step_end(self, workflow: str, outcome: StepOutcome) -> None:
        with self.lock:
            self.events.append(("step_end", workflow, f"{outcome.name}:{outcome.status}"))

    def on_workflow_end(self, result: WorkflowResult) -> None:
        with self.lock:
            self.events.append(("workflow_end", result.name, str(result.status)))


class Stubs:
    """An executor factory that keeps every StubExecutor it made, by workflow name."""

    def __init__(self) -> None:
        self.made: dict[str, StubExecutor] = {}

    def __call__(self, plan: WorkflowPlan) -> StubExecutor:
        self.made[plan.name] = StubExecutor()
        return self.made[plan.name]


def run_stub(plan: Plan, tmp_path: Path, **kw: object) -> tuple[RunResult, Stubs, Recorder]:
    stubs, recorder = Stubs(), Recorder()
    kw.setdefault("event", Event())
    result = run_plan(plan, executor_factory=stubs, work_dir=tmp_path / "work", reporter=recorder, **kw)  # type: ignore[arg-type]
    return result, stubs, recorder


def statuses(result: RunResult) -> dict[str, tuple[str, int]]:
    return {step.name: (str(step.status), step.exit_code) for step in result.steps}
