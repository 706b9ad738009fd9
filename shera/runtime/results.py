"""Runtime layer: how a run, its workflows and their steps ended, and the summary JSON made from that."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shera.model.status import Status


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """The final state of one step or service.

    ``status`` is one of success, failure, skipped, killed. ``started_at``/``finished_at`` are ``None`` for a
    step that never started (then ``duration_s`` is 0). ``error`` says why a step failed without its command
    deciding (missing secret, executor error, She-Ra step kind not executable yet); it is already masked.
    """

    name: str
    status: Status
    exit_code: int = 0
    duration_s: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    ignored: bool = False
    artifacts: dict[str, Any] = field(default_factory=dict)
    """What a She-Ra step kind produced, e.g. ``{"images": [{"ref", "digest"}]}`` for ``uses: build``."""

    @property
    def failed(self) -> bool:
        """True when this outcome fails its workflow (failed or killed, not ``failure: ignore``)."""
        return self.status in (Status.FAILURE, Status.KILLED) and not self.ignored

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "status": str(self.status),
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 3),
        }
        out.update(self.artifacts)
        return out


@dataclass(frozen=True, slots=True)
class WorkflowResult:
    """One workflow: its status and the outcome of every step it listed (services included)."""

    name: str
    status: Status
    steps: list[StepOutcome] = field(default_factory=list)
    error: str | None = None
    matrix: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The name shown to people: matrix rows of one workflow differ by their axis values."""
        if not self.matrix:
            return self.name
        return f"{self.name}[{','.join(f'{k}={v}' for k, v in self.matrix.items())}]"

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "status": str(self.status),
            "steps": [step.summary() for step in self.steps],
        }
        if self.matrix:
            out["matrix"] = dict(self.matrix)
        return out


@dataclass(frozen=True, slots=True)
class RunResult:
    """A whole run. ``status`` is ``killed`` when it was cancelled (Ctrl-C), else failure if any workflow
    failed, else success."""

    status: Status
    workflows: list[WorkflowResult] = field(default_factory=list)

    @property
    def steps(self) -> list[StepOutcome]:
        return [step for workflow in self.workflows for step in workflow.steps]

    def summary(self) -> dict[str, Any]:
        """Exactly ``{"status", "workflows": [{"name", "status", "steps": [{"name", "status", "exit_code",
        "duration_s"}]}]}``; the shape is a public contract (``shera exec --summary-json``)."""
        return {"status": str(self.status), "workflows": [wf.summary() for wf in self.workflows]}


def overall_status(workflows: Iterable[WorkflowResult], *, cancelled: bool) -> Status:
    """The run's status from its workflows' statuses (skipped workflows neither fail nor pass a run)."""
    if cancelled:
        return Status.KILLED
    statuses = {wf.status for wf in workflows}
    if statuses & {Status.FAILURE, Status.KILLED}:
        return Status.FAILURE
    return Status.SUCCESS
