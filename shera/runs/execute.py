"""Runs layer: ``execute_run``, the body of the queue actor — one run from lease to final state.

Idempotent, because the queue delivers at least once: a message for a run that is not ``queued`` (already
taken by a live worker, finished, cancelled) does nothing. Otherwise: take the lease (``queued -> running``),
set up (executor, checkout of the exact sha, load + plan; failures are written to the run's ``setup`` log),
run the plan with the same runtime as ``shera exec`` (``DbReporter`` for steps and logs, secrets masked and
withheld from forks, approve steps gated), then end the run by compare-and-set from the states this worker
holds. A run cancelled meanwhile keeps the state its canceller gave it. When the worker shuts down
(``WorkerContext.stopping``), its unfinished runs are cancelled and put back in the queue.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shera.build.tags import repository_component
from shera.model.event import Event
from shera.model.plan import Plan, StepPlan, WorkflowPlan
from shera.model.records import ProjectRecord, RunRecord
from shera.model.status import Status
from shera.pipeline.variables import ci_variables, platform_variables
from shera.plugins import Registry
from shera.runs.gate import ApprovalGate, Approvals, gate_approvals
from shera.runs.lease import Lease
from shera.runs.logsink import DbReporter
from shera.runs.prepare import Checkout, Prepared, SetupFailed, prepare
from shera.runtime.engine import run_plan
from shera.runtime.results import RunResult, StepOutcome
from shera.settings import Settings
from shera.steps.runner import RUNNERS, StepRunner
from shera.store import runs as run_store
from shera.store import steps as step_store
from shera.store.db import Database
from shera.store.images import record_image
from shera.store.projects import get_project
from shera.store.secrets import secrets_for
from shera.store.tenants import get_tenant

log = logging.getLogger(__name__)

StatusHook = Callable[[RunRecord, str], None]
"""``status_hook(run, state)``: ``pending`` when the run starts, then its final status (``success``,
``failure``, ``killed``). The forge side posts commit statuses; it must not raise (errors are logged)."""

SETUP = ("shera", "setup")
"""The pseudo step (workflow, name) whose log holds checkout and pipeline problems."""


def no_status(run: RunRecord, state: str) -> None:
    """The default ``StatusHook``: report nothing."""


@dataclass
class WorkerContext:
    """What every run of one worker process shares."""

    db: Database
    settings: Settings
    worker_id: str
    checkout: Checkout
    registry: Registry
    status_hook: StatusHook = no_status
    stopping: threading.Event = field(default_factory=threading.Event)
    check_interval: float = 1.0
    approval_poll: float = 0.5
    _active: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stop_all(self) -> None:
        """Shutdown: cancel every run of this worker; they are requeued as they end."""
        self.stopping.set()
        with self._lock:
            for cancel in self._active.values():
                cancel.set()


def execute_run(ctx: WorkerContext, run_id: str) -> str | None:
    """Execute ``run_id`` if it is queued; returns its final status, or None when the message is dropped."""
    if ctx.stopping.is_set():
        return None
    cancel = threading.Event()
    lease = Lease(
        ctx.db,
        run_id,
        ctx.worker_id,
        seconds=ctx.settings.lease_seconds,
        cancel=cancel,
        check_interval=ctx.check_interval,
    )
    run = lease.take()
    if run is None:
        log.info("run %s is not queued; message dropped", run_id)
        return None
    with ctx._lock:
        ctx._active[run_id] = cancel
    lease.start()
    workspace = ctx.settings.data_dir / "workspaces" / run_id
    try:
        status, reason = _run(ctx, run, workspace, cancel)
    except Exception:  # a bug must end the run, not leave it running until the reaper
        log.exception("run %s: internal error", run_id)
        status, reason = Status.FAILURE, "internal_error"
    finally:
        lease.stop()
        with ctx._lock:
            ctx._active.pop(run_id, None)
        shutil.rmtree(workspace, ignore_errors=True)
    return _finish(ctx, run, status, reason, lost=lease.lost.is_set())


def _finish(ctx: WorkerContext, run: RunRecord, status: Status, reason: str | None, *, lost: bool) -> str:
    db, owner = ctx.db, ctx.worker_id
    stopped = ctx.stopping.is_set() and not lost and status is Status.KILLED
    if stopped and run_store.requeue(db, run.id, run_store.ACTIVE, owner=owner, reason="worker_stopped"):
        step_store.end_open_steps(db, run.id, datetime.now(UTC))
        log.info("run %s: worker stopping; requeued", run.id)
        return "queued"
    values = {"reason": reason} if reason else {}
    run_store.transition(db, run.id, str(status), run_store.ACTIVE, owner=owner, values=values)
    step_store.end_open_steps(db, run.id, datetime.now(UTC))
    final = run_store.get_run(db, run.id, None) or run
    _report(ctx, final, final.status)
    return final.status


def _run(
    ctx: WorkerContext, run: RunRecord, workspace: Path, cancel: threading.Event
) -> tuple[Status, str | None]:
    db = ctx.db
    project = get_project(db, run.project_id, None)
    if project is None:
        return Status.FAILURE, "project_deleted"
    _report(ctx, run, "pending")
    ids = step_store.create_steps(db, run.id, [(*SETUP, "queued")])
    reporter = DbReporter(db, run.id, cap_bytes=ctx.settings.log_cap_bytes, step_ids=ids)
    try:
        reporter.on_step_start(*SETUP)
        prepared = _setup(ctx, run, project, workspace, reporter)
        if isinstance(prepared, str):
            return Status.FAILURE, prepared
        reporter.adopt(step_store.create_steps(db, run.id, _step_rows(prepared.plan), first_position=1))
        secrets = {} if prepared.event.from_fork else _secrets(db, project, run.event)
        approvals = Approvals(db, run.id, ctx.worker_id, poll=ctx.approval_poll)
        executor = prepared.executor
        result = run_plan(
            gate_approvals(prepared.plan),
            executor_factory=lambda _wf: ApprovalGate(executor(), approvals),
            event=prepared.event,
            secrets=secrets,
            source_dir=prepared.source,
            source_disposable=True,
            work_dir=workspace / "work",
            reporter=reporter,
            cancel=cancel,
            variables=_variables(prepared.event, platform_variables(registry=ctx.settings.registry)),
            runners=_runners(ctx, project),
            data_dir=ctx.settings.data_dir,
            project=project.id,
            run_id=run.id,
        )
        _record_images(db, project, run, result)
    finally:
        reporter.close()
    return result.status, None


def _runners(ctx: WorkerContext, project: ProjectRecord) -> dict[str, StepRunner]:
    """The step-kind runners of ``ctx.registry`` for this project's run: ``from_settings(settings,
    repository_path=<tenant>/<project>)`` when the class offers it (its default image repository), else
    ``cls()``."""
    tenant = get_tenant(ctx.db, project.tenant_id)
    path = "/".join(repository_component(part) for part in (tenant.name if tenant else "x", project.name))
    runners: dict[str, StepRunner] = {}
    for name in ctx.registry.names(RUNNERS):
        cls = ctx.registry.get(RUNNERS, name)
        factory = getattr(cls, "from_settings", None)
        runners[name] = factory(ctx.settings, repository_path=path) if callable(factory) else cls()
    return runners


def _record_images(db: Database, project: ProjectRecord, run: RunRecord, result: RunResult) -> None:
    """Record every image a step pushed (``artifacts["images"]`` entries with a digest) with the run,
    commit, branch and step that made it."""
    for step in result.steps:
        for image in step.artifacts.get("images", []):
            ref, digest = image.get("ref"), image.get("digest")
            if not ref or not digest:
                continue
            name, _, tag = str(ref).rpartition(":")
            host, _, repository = name.partition("/")
            record_image(
                db,
                tenant_id=project.tenant_id,
                project_id=project.id,
                registry_host=host,
                repository=repository,
                tag=tag,
                digest=str(digest),
                size=image.get("size"),
                run_id=run.id,
                step=step.name,
                sha=run.sha,
                branch=run.branch,
            )


def _setup(
    ctx: WorkerContext, run: RunRecord, project: ProjectRecord, workspace: Path, reporter: DbReporter
) -> Prepared | str:
    """The prepared run, or the failure reason (the setup step then ended ``failure``)."""
    started = datetime.now(UTC)

    def say(line: str) -> None:
        reporter.write(*SETUP, (line.rstrip("\n") + "\n").encode())

    try:
        prepared = prepare(
            run,
            project,
            workspace=workspace,
            checkout=ctx.checkout,
            registry=ctx.registry,
            default_executor=ctx.settings.default_executor,
            say=say,
            variables=platform_variables(registry=ctx.settings.registry),
        )
    except SetupFailed as exc:
        end = StepOutcome(SETUP[1], Status.FAILURE, 1, started_at=started, finished_at=datetime.now(UTC))
        reporter.on_step_end(SETUP[0], end)
        return exc.reason
    finished = datetime.now(UTC)
    duration = (finished - started).total_seconds()
    outcome = StepOutcome(SETUP[1], Status.SUCCESS, 0, duration, started_at=started, finished_at=finished)
    reporter.on_step_end(SETUP[0], outcome)
    return prepared


def _step_rows(plan: Plan) -> list[tuple[str, str, str]]:
    """``(workflow label, step, status)`` for every step and service of the plan, in display order."""
    rows: list[tuple[str, str, str]] = []
    for wf in plan.workflows:
        if wf.skipped:
            rows.extend((wf.label, name, "skipped") for name in wf.skipped_steps)
        else:
            rows.extend((wf.label, step.name, "queued") for step in (*wf.services, *wf.steps))
    return rows


def _secrets(db: Database, project: ProjectRecord, event: str) -> dict[str, str]:
    return {secret.name: secret.value for secret in secrets_for(db, project.id, event)}


def _variables(
    event: Event, platform: Mapping[str, str]
) -> Callable[[WorkflowPlan, StepPlan, str], dict[str, str]]:
    def provide(workflow: WorkflowPlan, step: StepPlan, workspace: str) -> dict[str, str]:
        return {
            **platform,
            **ci_variables(
                event, workflow=workflow.name, matrix=workflow.matrix, step=step.name, workspace=workspace
            ),
        }

    return provide


def _report(ctx: WorkerContext, run: RunRecord, state: str) -> None:
    try:
        ctx.status_hook(run, state)
    except Exception:  # a forge outage must not change the run
        log.exception("run %s: commit status %r not reported", run.id, state)
