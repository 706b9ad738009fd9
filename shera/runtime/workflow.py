"""Runtime layer: runs one workflow: prepare the executor, start services, run the stages, tear down."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from shera.errors import SheraError
from shera.executors.base import WorkflowContext
from shera.model.plan import StepPlan, WorkflowPlan
from shera.model.status import Status
from shera.runtime.context import RunOptions, WorkflowRun
from shera.runtime.environment import MissingSecretError
from shera.runtime.output import StepOutput
from shera.runtime.results import StepOutcome, WorkflowResult
from shera.runtime.stage import FAILED_TO_START_EXIT_CODE, run_stage
from shera.runtime.workspace import make_dirs, step_workspace

NOT_RUN_STATUS = Status.KILLED
"""Status of the steps of a workflow skipped because a workflow it depends on failed.

Woodpecker reports them ``killed`` with exit code 0 (its e2e scenario 13 expects exactly that and notes
"it should be skipped"); She-Ra follows Woodpecker so results compare equal.
"""


def not_run(plan: WorkflowPlan, reason: str) -> WorkflowResult:
    """The result of a workflow that was skipped because of its dependencies."""
    steps = [StepOutcome(name=step.name, status=NOT_RUN_STATUS) for step in (*plan.services, *plan.steps)]
    return WorkflowResult(
        name=plan.name, status=Status.SKIPPED, steps=steps, error=reason, matrix=dict(plan.matrix)
    )


def run_workflow(plan: WorkflowPlan, options: RunOptions, dir_name: str) -> WorkflowResult:
    """Run ``plan`` to its end; never raises for failures of its steps or of the executor.

    The executor's ``teardown`` runs exactly once whenever ``prepare`` was attempted, also when a step or
    the executor raised, so nothing of this workflow is left running.
    """
    options.reporter.on_workflow_start(plan.label)
    errors: list[str] = []
    services: list[StepOutcome] = []
    steps: list[StepOutcome] = []
    run: WorkflowRun | None = None
    try:
        dirs = make_dirs(options.work_dir, dir_name)
        context = WorkflowContext(
            name=dir_name,
            workspace_dir=dirs.workspace,
            workspace=plan.workspace,
            run_dir=dirs.run,
            labels=plan.labels,
        )
        executor = options.executor_factory(plan)
        workspace = step_workspace(executor.name, dirs.workspace, plan.workspace)
        run = WorkflowRun(plan, options, executor, context, workspace)
        run.executor.prepare(context)
        services = [_start_service(run, service) for service in plan.services]
        if any(service.failed for service in services):
            run.state = "failure"
        for stage in plan.stages:
            steps.extend(run_stage(run, stage))
    except SheraError as exc:
        errors.append(options.masker.mask_text(str(exc)))
    finally:
        if run is not None:
            errors.extend(_teardown(run))
    done = {outcome.name for outcome in (*services, *steps)}
    never_started = [
        StepOutcome(name=s.name, status=Status.SKIPPED) for s in plan.steps if s.name not in done
    ]
    services = [_service_end(outcome, cancelled=options.cancel.is_set()) for outcome in services]
    for outcome in services:
        if outcome.error is None:
            options.reporter.on_step_end(plan.label, outcome)
    outcomes = services + steps + never_started
    if options.cancel.is_set():
        status = Status.KILLED
    elif errors or any(outcome.failed for outcome in outcomes):
        status = Status.FAILURE
    else:
        status = Status.SUCCESS
    result = WorkflowResult(
        plan.name, status, outcomes, error="; ".join(errors) or None, matrix=dict(plan.matrix)
    )
    options.reporter.on_workflow_end(result)
    return result


def _start_service(run: WorkflowRun, service: StepPlan) -> StepOutcome:
    options = run.options
    options.reporter.on_step_start(run.plan.label, service.name)
    started_at, clock = datetime.now(UTC), time.monotonic()
    sink = StepOutput(options.masker, options.reporter, run.plan.label, service.name)
    run.open_sinks.append(sink)
    status, exit_code, error = Status.SUCCESS, 0, None
    try:
        env = options.environment.build(run.plan, service, run.state, run.workspace.seen_as)
        run.executor.start_service(service, env, sink)
    except (MissingSecretError, SheraError) as exc:
        status, exit_code, error = (
            Status.FAILURE,
            FAILED_TO_START_EXIT_CODE,
            options.masker.mask_text(str(exc)),
        )
    outcome = StepOutcome(
        name=service.name,
        status=status,
        exit_code=exit_code,
        duration_s=time.monotonic() - clock,
        started_at=started_at,
        error=error,
    )
    if error:
        options.reporter.on_step_end(run.plan.label, outcome)
    return outcome


def _service_end(outcome: StepOutcome, *, cancelled: bool) -> StepOutcome:
    """A started service ends when its workflow is torn down: it lived as long as the workflow."""
    if outcome.started_at is None or outcome.error:
        return outcome
    finished = datetime.now(UTC)
    status = Status.KILLED if cancelled else outcome.status
    exit_code = 137 if cancelled else outcome.exit_code
    duration = (finished - outcome.started_at).total_seconds()
    return replace(outcome, status=status, exit_code=exit_code, finished_at=finished, duration_s=duration)


def _teardown(run: WorkflowRun) -> list[str]:
    errors: list[str] = []
    try:
        run.executor.teardown()
    except SheraError as exc:
        errors.append(run.options.masker.mask_text(f"teardown: {exc}"))
    for sink in run.open_sinks:
        sink.close()
    return errors
