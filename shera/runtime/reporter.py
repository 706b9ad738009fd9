"""Runtime layer: the ``Reporter`` protocol through which a run reports progress and (masked) output.

Call order per workflow: ``on_workflow_start``, then per step ``on_step_start``, ``on_output``...,
``on_step_end`` (skipped steps get only ``on_step_end``), then ``on_workflow_end`` (a workflow skipped
because of its dependencies, or never started after a cancel, gets only ``on_workflow_end``). Steps of one
stage and independent workflows run in parallel threads, so a reporter must be thread-safe. Output is
already masked.
A reporter must not raise; the runtime does not protect itself against it.
"""

from __future__ import annotations

from typing import Protocol

from shera.runtime.results import StepOutcome, WorkflowResult


class Reporter(Protocol):
    def on_workflow_start(self, workflow: str) -> None: ...

    def on_step_start(self, workflow: str, step: str) -> None: ...

    def on_output(self, workflow: str, step: str, data: bytes) -> None: ...

    def on_step_end(self, workflow: str, outcome: StepOutcome) -> None: ...

    def on_workflow_end(self, result: WorkflowResult) -> None: ...


class NullReporter:
    """Reports nothing (library use, tests)."""

    def on_workflow_start(self, workflow: str) -> None:
        pass

    def on_step_start(self, workflow: str, step: str) -> None:
        pass

    def on_output(self, workflow: str, step: str, data: bytes) -> None:
        pass

    def on_step_end(self, workflow: str, outcome: StepOutcome) -> None:
        pass

    def on_workflow_end(self, result: WorkflowResult) -> None:
        pass
