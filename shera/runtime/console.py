"""Runtime layer: ``ConsoleReporter``, the terminal view of a run (prefixed output, live states, final table).

Every output line is prefixed by its step (``[build] ...``; ``[workflow/build]`` when the run has several
workflows). On a TTY a rich live view lists the state of every step below the output; otherwise plain
lines, one per event. ``print_summary`` prints the final table. Output reaches here already masked.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shera.model.status import Status
from shera.runtime.reporter import Reporter
from shera.runtime.results import RunResult, StepOutcome, WorkflowResult

__all__ = ["ConsoleReporter", "Reporter"]

_STYLES = {
    Status.SUCCESS: "green",
    Status.FAILURE: "red",
    Status.KILLED: "magenta",
    Status.SKIPPED: "dim",
    Status.RUNNING: "yellow",
}


class ConsoleReporter:
    """A thread-safe ``Reporter`` writing to ``file`` (stdout by default); use it as a context manager so
    the live view is stopped and partial lines are written at the end."""

    def __init__(
        self, *, multi_workflow: bool = False, file: IO[str] | None = None, live: bool | None = None
    ):
        self.console = Console(file=file, highlight=False, soft_wrap=True)
        self.multi_workflow = multi_workflow
        self._use_live = self.console.is_terminal if live is None else live
        self._live: Live | None = None
        self._lock = threading.RLock()
        self._partial: dict[tuple[str, str], bytes] = {}
        self._states: dict[tuple[str, str], Status] = {}

    def __enter__(self) -> ConsoleReporter:
        if self._use_live:
            self._live = Live(self._table(), console=self.console, auto_refresh=False, transient=True)
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with self._lock:
            for (workflow, step), rest in list(self._partial.items()):
                self._line(workflow, step, rest)
            self._partial.clear()
            if self._live is not None:
                self._live.stop()
                self._live = None

    def _prefix(self, workflow: str, step: str) -> str:
        return f"[{workflow}/{step}]" if self.multi_workflow else f"[{step}]"

    def _line(self, workflow: str, step: str, data: bytes, style: str = "") -> None:
        text = Text(f"{self._prefix(workflow, step)} ", style="bold")
        text.append(data.decode(errors="replace").rstrip("\r"), style=style)
        self.console.print(text)
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table(), refresh=True)

    def _table(self) -> Table:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for (workflow, step), status in self._states.items():
            name = f"{workflow}/{step}" if self.multi_workflow else step
            table.add_row(Text(str(status), style=_STYLES.get(status, "")), Text(name))
        return table

    def on_workflow_start(self, workflow: str) -> None:
        if self.multi_workflow:
            with self._lock:
                self.console.print(Text(f"workflow {workflow} started", style="bold"))

    def on_step_start(self, workflow: str, step: str) -> None:
        with self._lock:
            self._states[(workflow, step)] = Status.RUNNING
            self._refresh()

    def on_output(self, workflow: str, step: str, data: bytes) -> None:
        with self._lock:
            key = (workflow, step)
            *lines, rest = (self._partial.pop(key, b"") + data).split(b"\n")
            for line in lines:
                self._line(workflow, step, line)
            if rest:
                self._partial[key] = rest

    def on_step_end(self, workflow: str, outcome: StepOutcome) -> None:
        with self._lock:
            key = (workflow, outcome.name)
            if key in self._partial:
                self._line(workflow, outcome.name, self._partial.pop(key))
            self._states[key] = outcome.status
            if outcome.error:
                self._line(workflow, outcome.name, f"error: {outcome.error}".encode(), style="red")
            elif not self._use_live and outcome.status is not Status.SKIPPED:
                note = f"{outcome.status} (exit code {outcome.exit_code}, {outcome.duration_s:.2f}s)"
                self._line(workflow, outcome.name, note.encode(), style=_STYLES.get(outcome.status, ""))
            self._refresh()

    def on_workflow_end(self, result: WorkflowResult) -> None:
        with self._lock:
            if result.error:
                self.console.print(Text(f"workflow {result.label}: {result.error}", style="red"))
            for step in result.steps:
                self._states.setdefault((result.label, step.name), step.status)
            self._refresh()

    def print_summary(self, result: RunResult) -> None:
        """The final table: every workflow and step with status, exit code and duration."""
        table = Table(title=f"run {result.status}", title_style=_STYLES.get(result.status, ""))
        for column in ("workflow", "step", "status", "exit code", "duration"):
            table.add_column(column)
        for workflow in result.workflows:
            for step in workflow.steps:
                style = _STYLES.get(step.status, "")
                duration = f"{step.duration_s:.2f}s"
                table.add_row(
                    workflow.label,
                    step.name,
                    Text(str(step.status), style=style),
                    str(step.exit_code),
                    duration,
                )
            if not workflow.steps:
                table.add_row(workflow.label, "-", Text(str(workflow.status)), "", "")
        with self._lock:
            self.console.print(table)
