"""Runtime layer: ``run_plan``, the entry point that runs every workflow of a Plan in dependency order.

Workflows whose dependencies are finished run concurrently (one thread each). A workflow starts when every
workflow it depends on ended and the combined state (``failure`` when any of them failed, was killed or
skipped, else ``success``) is in its ``run_on``; otherwise it is skipped. Dependencies on workflows that are
not in the plan, or that the plan skipped (``when`` did not match), are ignored, as Woodpecker does.
Workflows the plan skipped are not part of the result.

Ctrl-C (``KeyboardInterrupt`` in the thread that called ``run_plan``) sets ``cancel``: running steps are
killed by their executor, nothing new starts, every executor is torn down, and the run ends ``killed``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from shera.model.event import Event
from shera.model.plan import Plan, StepKind, WorkflowPlan
from shera.model.status import Status
from shera.runtime.context import ExecutorFactory, RunOptions
from shera.runtime.environment import EnvironmentBuilder, VariablesProvider
from shera.runtime.masking import SecretMasker
from shera.runtime.reporter import NullReporter, Reporter
from shera.runtime.results import RunResult, StepOutcome, WorkflowResult, overall_status
from shera.runtime.workflow import not_run, run_workflow
from shera.runtime.workspace import SourceTree, safe_name
from shera.steps.runner import StepRunner

_FAILED = frozenset({Status.FAILURE, Status.KILLED, Status.SKIPPED})


def run_plan(
    plan: Plan,
    *,
    executor_factory: ExecutorFactory,
    event: Event,
    secrets: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    source_dir: Path | None = None,
    source_disposable: bool = False,
    work_dir: Path,
    reporter: Reporter | None = None,
    step_timeout: float | None = None,
    cancel: threading.Event | None = None,
    variables: VariablesProvider | None = None,
    runners: Mapping[str, StepRunner] | None = None,
    data_dir: Path | None = None,
    project: str = "local",
    run_id: str | None = None,
) -> RunResult:
    """Run ``plan`` and return how it ended; step failures are results, not exceptions.

    ``executor_factory`` makes a fresh executor per workflow. ``secrets`` maps secret names to values
    (withheld from pull requests from forks); their values are masked in everything reported. ``env``
    overrides every other variable. ``source_dir`` is copied into the workspace by clone steps; with
    ``source_disposable`` (a checkout made for this run alone) the last clone step moves it there instead.
    ``work_dir`` holds one directory per workflow. ``step_timeout`` applies to steps without their own.
    ``variables`` provides the ``CI_*`` variables (see ``environment.VariablesProvider``). ``runners`` run
    the She-Ra step kinds (``uses:``) by name; ``data_dir``, ``project`` and ``run_id`` are passed to them.
    """
    secrets = dict(secrets or {})
    cancel = cancel or threading.Event()
    workflows = [wf for wf in plan.workflows if not wf.skipped]
    clones = sum(1 for wf in workflows for step in wf.steps if step.kind is StepKind.CLONE)
    options = RunOptions(
        executor_factory=executor_factory,
        environment=EnvironmentBuilder(
            variables=variables,
            secrets=secrets,
            overrides=dict(env or {}),
            started_at=time.time(),
            secrets_allowed=not event.from_fork,
        ),
        masker=SecretMasker(secrets.values()),
        reporter=reporter or NullReporter(),
        cancel=cancel,
        work_dir=work_dir,
        source=None
        if source_dir is None
        else SourceTree(source_dir, clones=clones, disposable=source_disposable),
        step_timeout=step_timeout,
        runners=dict(runners or {}),
        event=event,
        secrets=secrets,
        data_dir=data_dir,
        project=project,
        run_id=run_id,
    )
    results = _Scheduler(workflows, options).run()
    ordered = [results[i] for i in range(len(workflows))]
    return RunResult(overall_status(ordered, cancelled=cancel.is_set()), ordered)


class _Scheduler:
    """Starts each workflow once its dependencies ended; waits in the calling thread (Ctrl-C lands here)."""

    def __init__(self, workflows: list[WorkflowPlan], options: RunOptions) -> None:
        self.workflows = workflows
        self.options = options
        names = {wf.name for wf in workflows}
        self.deps = [
            [i for i, other in enumerate(workflows) if other.name in wf.depends_on] for wf in workflows
        ]
        self.missing = [sorted(set(wf.depends_on) - names) for wf in workflows]
        taken: set[str] = set()
        self.dir_names = [safe_name(wf.name, taken) for wf in workflows]
        self.results: dict[int, WorkflowResult] = {}
        self.wakeup: queue.Queue[int] = queue.Queue()
        self.running: dict[int, threading.Thread] = {}

    def run(self) -> dict[int, WorkflowResult]:
        while len(self.results) < len(self.workflows):
            try:
                self._advance()
            except KeyboardInterrupt:
                self.options.cancel.set()
        for thread in self.running.values():
            thread.join()
        return self.results

    def _advance(self) -> None:
        """One scheduling round; safe to interrupt anywhere (workers store their own results)."""
        for index in [i for i in self.running if i in self.results]:
            self.running.pop(index).join()
        self._start_ready()
        if not self.running and len(self.results) < len(self.workflows):
            # Nothing runs and nothing can start: a dependency cycle the planner let through.
            for i, wf in enumerate(self.workflows):
                if i not in self.results:
                    self._finish(i, not_run(wf, "its dependencies form a cycle"))
            return
        with contextlib.suppress(queue.Empty):
            self.wakeup.get(timeout=0.2)

    def _start_ready(self) -> None:
        """Start or skip every workflow whose dependencies ended, until nothing changes."""
        before = -1
        while before != len(self.results) + len(self.running):
            before = len(self.results) + len(self.running)
            self._start_ready_once()

    def _start_ready_once(self) -> None:
        for i, wf in enumerate(self.workflows):
            if i in self.results or i in self.running:
                continue
            if any(dep not in self.results for dep in self.deps[i]):
                continue
            failed = any(self.results[dep].status in _FAILED for dep in self.deps[i])
            if self.options.cancel.is_set():
                self._finish(i, not_run(wf, "the run was cancelled"), status=Status.SKIPPED)
            elif ("failure" if failed else "success") not in wf.run_on:
                self._finish(i, not_run(wf, "a workflow it depends on did not succeed"))
            else:
                thread = threading.Thread(target=self._work, args=(i,), name=f"workflow-{wf.name}")
                self.running[i] = thread
                thread.start()

    def _work(self, index: int) -> None:
        wf = self.workflows[index]
        try:
            result = run_workflow(wf, self.options, self.dir_names[index])
        except Exception as exc:  # a bug must end the workflow, not hang the run
            error = self.options.masker.mask_text(f"internal error: {type(exc).__name__}: {exc}")
            result = WorkflowResult(wf.name, Status.FAILURE, [], error=error, matrix=dict(wf.matrix))
        self.results[index] = result
        self.wakeup.put(index)

    def _finish(self, index: int, result: WorkflowResult, status: Status | None = None) -> None:
        if status is not None:
            steps = [StepOutcome(name=s.name, status=status) for s in result.steps]
            result = WorkflowResult(result.name, result.status, steps, result.error, result.matrix)
        self.results[index] = result
        self.options.reporter.on_workflow_end(result)
