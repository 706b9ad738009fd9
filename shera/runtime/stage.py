"""Runtime layer: runs one stage of a workflow (its steps in parallel threads) and each step of it."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from shera.errors import SheraError
from shera.executors.base import StepResult
from shera.model.plan import StepKind, StepPlan
from shera.model.status import Status
from shera.runtime.context import WorkflowRun
from shera.runtime.environment import MissingSecretError
from shera.runtime.output import StepOutput
from shera.runtime.results import StepOutcome
from shera.steps.runner import KindContext

FAILED_TO_START_EXIT_CODE = 1
"""Exit code reported for a step that failed before any command ran (missing secret, executor error)."""


def run_stage(run: WorkflowRun, stage: Sequence[StepPlan]) -> list[StepOutcome]:
    """Run the steps of ``stage`` concurrently; return their outcomes in stage order.

    Whether a step starts is decided by the workflow state at the start of the stage, so steps of one
    stage never see each other's result. The workflow state is updated once the stage ended.
    """
    state = run.state
    if len(stage) == 1:
        outcomes = [run_step(run, stage[0], state)]
    else:
        slots: list[StepOutcome | None] = [None] * len(stage)

        def work(index: int, step: StepPlan) -> None:
            slots[index] = run_step(run, step, state)

        threads = [
            threading.Thread(target=work, args=(i, step), name=f"step-{step.name}")
            for i, step in enumerate(stage)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes = [outcome for outcome in slots if outcome is not None]
    if any(outcome.failed for outcome in outcomes):
        run.state = "failure"
    return outcomes


def run_step(run: WorkflowRun, step: StepPlan, state: str) -> StepOutcome:
    """Run one step (or skip it) and report it; never raises for a step's own failure."""
    options = run.options
    workflow = run.plan.label
    if options.cancel.is_set() or state not in step.run_on:
        outcome = StepOutcome(name=step.name, status=Status.SKIPPED, ignored=step.failure_ignore)
        options.reporter.on_step_end(workflow, outcome)
        return outcome
    options.reporter.on_step_start(workflow, step.name)
    started_at, clock = datetime.now(UTC), time.monotonic()
    sink = StepOutput(options.masker, options.reporter, workflow, step.name)
    try:
        result = _execute(run, step, state, sink)
    except MissingSecretError as exc:
        result = StepResult(Status.FAILURE, FAILED_TO_START_EXIT_CODE, error=str(exc))
    except SheraError as exc:
        result = StepResult(Status.FAILURE, FAILED_TO_START_EXIT_CODE, error=str(exc))
    except Exception as exc:  # an executor bug must end the step, not hang the run
        error = f"internal error in executor {run.executor.name!r}: {type(exc).__name__}: {exc}"
        result = StepResult(Status.FAILURE, FAILED_TO_START_EXIT_CODE, error=error)
    finally:
        if not step.detach:
            sink.close()
    if step.detach:
        run.open_sinks.append(sink)
    outcome = StepOutcome(
        name=step.name,
        status=result.status,
        exit_code=result.exit_code,
        duration_s=time.monotonic() - clock,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        error=options.masker.mask_text(result.error) if result.error else None,
        ignored=step.failure_ignore,
        artifacts=dict(run.artifacts.get(step.name, {})),  # kept: later runners of the workflow read it
    )
    options.reporter.on_step_end(workflow, outcome)
    return outcome


def _execute(run: WorkflowRun, step: StepPlan, state: str, sink: StepOutput) -> StepResult:
    options = run.options
    if step.kind is StepKind.CLONE:
        return _clone(run, sink)
    env = options.environment.build(run.plan, step, state, run.workspace.seen_as)
    if step.kind is StepKind.USES:
        return _run_kind(run, step, env, sink)
    if step.detach:
        run.executor.start_service(step, env, sink)
        return StepResult(Status.SUCCESS, 0)
    timeout = step.timeout_s if step.timeout_s is not None else options.step_timeout
    return run.executor.run_step(step, env, sink, timeout, options.cancel)


def _run_kind(run: WorkflowRun, step: StepPlan, env: Mapping[str, str], sink: StepOutput) -> StepResult:
    """A She-Ra step kind: its runner, or a clear failure when none is registered."""
    options = run.options
    runner = options.runners.get(step.uses or "")
    if runner is None:
        known = ", ".join(sorted(options.runners)) or "none"
        return StepResult(
            Status.FAILURE,
            FAILED_TO_START_EXIT_CODE,
            error=f"step kind {step.uses!r} cannot run here (runners available: {known})",
        )
    ctx = KindContext(
        step=step,
        workflow=run.plan,
        event=options.event,
        source_dir=run.workspace.source,
        env=env,
        secrets={} if options.event.from_fork else options.secrets,
        out=sink,
        cancel=options.cancel,
        timeout=step.timeout_s if step.timeout_s is not None else options.step_timeout,
        data_dir=options.data_dir,
        project=options.project,
        run_id=options.run_id,
        artifacts=dict(run.artifacts),  # earlier steps' artifacts of this workflow, by step name
    )
    done = runner.run(ctx)
    run.artifacts[step.name] = dict(done.artifacts)
    return done.result


def _clone(run: WorkflowRun, sink: StepOutput) -> StepResult:
    source = run.options.source
    if source is None:
        sink(b"no source directory given; the workspace stays empty\n")
        return StepResult(Status.SUCCESS, 0)
    sink(source.fill(run.workspace.source).encode())
    return StepResult(Status.SUCCESS, 0)
