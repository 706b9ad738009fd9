"""Runs layer: ``uses: approve`` in server runs — the run waits in ``pending_approval`` for a decision.

The runtime executes no She-Ra step kind itself (it fails ``uses:`` steps as "runs in a later version"), and
it calls only the executor for other steps. So the worker rewrites each approve step into a ``commands``
step that keeps ``uses``/``with`` (``gate_approvals``), and wraps the executor of every workflow in an
``ApprovalGate`` that answers those steps itself: it moves the run to ``pending_approval`` (compare-and-set,
lease kept) and polls the run until ``runs.approve`` approved it (the step succeeds, the run is ``running``
again) or declined it (the run already ended ``failure``/``declined``; the step fails). ``timeout`` and
``on_timeout`` of the step's ``with:`` decide what happens when nobody answers. Who may decide is checked by
the API route (by role); the step's ``approvers``/``roles`` are not enforced yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import replace

from pydantic import ValidationError

from shera.errors import SheraError
from shera.executors.base import KILLED_EXIT_CODE, Executor, OutputSink, StepResult, WorkflowContext
from shera.model.plan import Plan, StepKind, StepPlan, WorkflowPlan
from shera.model.status import Status
from shera.steps.approve import ApproveWith
from shera.store import runs as run_store
from shera.store.db import Database

APPROVE = "approve"


def gate_approvals(plan: Plan) -> Plan:
    """``plan`` with every ``uses: approve`` step turned into a ``commands`` step the gate recognizes."""

    def gated(step: StepPlan) -> StepPlan:
        if step.kind is StepKind.USES and step.uses == APPROVE:
            return replace(step, kind=StepKind.COMMANDS, commands=(), image=None)
        return step

    def workflow(wf: WorkflowPlan) -> WorkflowPlan:
        stages = tuple(tuple(gated(step) for step in stage) for stage in wf.stages)
        return replace(wf, stages=stages)

    return replace(plan, workflows=tuple(workflow(wf) for wf in plan.workflows))


class Approvals:
    """Waits for decisions on one run held by ``owner``; shared by the gates of its workflows."""

    def __init__(self, db: Database, run_id: str, owner: str, *, poll: float = 0.5) -> None:
        self.db = db
        self.run_id = run_id
        self.owner = owner
        self.poll = poll

    def wait(self, step: StepPlan, out: OutputSink, cancel: threading.Event) -> StepResult:
        """Block until approved (success), declined or timed out (as ``on_timeout`` says), or cancelled."""
        try:
            params = ApproveWith.model_validate(dict(step.with_))
        except ValidationError:
            params = ApproveWith()
        held = run_store.transition(
            self.db,
            self.run_id,
            "pending_approval",
            run_store.ACTIVE,
            owner=self.owner,
            values={"approval": None, "approved_by": None},
        )
        if not held:
            return StepResult(Status.FAILURE, 1, error="the run is no longer running")
        out(f"waiting for approval: {params.message}\n".encode())
        deadline = time.monotonic() + float(params.timeout)
        while not cancel.wait(self.poll):
            try:
                run = run_store.get_run(self.db, self.run_id, None)
            except SheraError:
                continue  # the database is down: keep waiting, the lease thread decides
            if run is None:
                return StepResult(Status.FAILURE, 1, error="the run was deleted")
            if run.approval == "approved" and run.status == "running":
                out(b"approved\n")
                return StepResult(Status.SUCCESS, 0)
            if run.approval == "declined" or run.status in run_store.FINISHED:
                out(b"declined\n")
                return StepResult(Status.FAILURE, 1, error="declined")
            if time.monotonic() >= deadline:
                return self._timed_out(params, out)
        return StepResult(Status.KILLED, KILLED_EXIT_CODE)

    def _timed_out(self, params: ApproveWith, out: OutputSink) -> StepResult:
        if params.on_timeout == "approve":
            to, values = "running", {"approval": "approved", "approved_by": "timeout"}
        else:
            to, values = "failure", {"approval": "declined", "reason": "approval_timeout"}
        decided = run_store.transition(
            self.db, self.run_id, to, ("pending_approval",), owner=self.owner, values=values
        )
        out(f"nobody decided in time: {'approved' if to == 'running' else 'declined'}\n".encode())
        if decided and to == "running":
            return StepResult(Status.SUCCESS, 0)
        return StepResult(Status.FAILURE, 1, error="approval timed out")


class ApprovalGate:
    """An executor that answers approve steps and passes everything else to ``inner``."""

    def __init__(self, inner: Executor, approvals: Approvals) -> None:
        self.inner = inner
        self.approvals = approvals
        self.name = inner.name

    def prepare(self, ctx: WorkflowContext) -> None:
        self.inner.prepare(ctx)

    def start_service(self, step: StepPlan, env: Mapping[str, str], out: OutputSink) -> None:
        self.inner.start_service(step, env, out)

    def run_step(
        self,
        step: StepPlan,
        env: Mapping[str, str],
        out: OutputSink,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StepResult:
        if step.uses == APPROVE and step.kind is StepKind.COMMANDS:
            return self.approvals.wait(step, out, cancel or threading.Event())
        return self.inner.run_step(step, env, out, timeout, cancel)

    def teardown(self) -> None:
        self.inner.teardown()
