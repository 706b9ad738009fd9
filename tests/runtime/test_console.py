"""ConsoleReporter: output lines prefixed by step, partial lines joined, final table; markup stays literal."""

from __future__ import annotations

import io

from shera.model.status import Status
from shera.runtime.console import ConsoleReporter
from shera.runtime.results import RunResult, StepOutcome, WorkflowResult


def plain(multi: bool = False) -> tuple[ConsoleReporter, io.StringIO]:
    buffer = io.StringIO()
    return ConsoleReporter(multi_workflow=multi, file=buffer, live=False), buffer


def test_output_lines_are_prefixed_and_partial_lines_joined() -> None:
    reporter, buffer = plain()
    with reporter:
        reporter.on_step_start("ci", "build")
        reporter.on_output("ci", "build", b"compil")
        reporter.on_output("ci", "build", b"ing\n[red]not markup[/red]\nno newline at end")
        reporter.on_step_end("ci", StepOutcome("build", Status.SUCCESS, 0, 1.5))
    lines = buffer.getvalue().splitlines()
    assert lines[:3] == ["[build] compiling", "[build] [red]not markup[/red]", "[build] no newline at end"]
    assert lines[3] == "[build] success (exit code 0, 1.50s)"


def test_several_workflows_prefix_workflow_and_step() -> None:
    reporter, buffer = plain(multi=True)
    with reporter:
        reporter.on_output("lint", "check", b"ok\n")
    assert "[lint/check] ok" in buffer.getvalue()


def test_errors_are_shown_and_skipped_steps_stay_quiet() -> None:
    reporter, buffer = plain()
    with reporter:
        reporter.on_step_end("ci", StepOutcome("deploy", Status.SKIPPED))
        reporter.on_step_end(
            "ci", StepOutcome("img", Status.FAILURE, 1, error="step kind 'build' runs later")
        )
    assert buffer.getvalue().splitlines() == ["[img] error: step kind 'build' runs later"]


def test_partial_line_is_written_at_exit() -> None:
    reporter, buffer = plain()
    with reporter:
        reporter.on_output("ci", "s", b"tail without newline")
    assert buffer.getvalue() == "[s] tail without newline\n"


def test_final_table_lists_every_step() -> None:
    reporter, buffer = plain()
    steps = [StepOutcome("build", Status.SUCCESS, 0, 0.25), StepOutcome("test", Status.FAILURE, 3, 1.0)]
    reporter.print_summary(RunResult(Status.FAILURE, [WorkflowResult("ci", Status.FAILURE, steps)]))
    text = buffer.getvalue()
    assert "run failure" in text
    assert "build" in text and "0.25s" in text
    assert "test" in text and "failure" in text and " 3 " in text


def test_live_view_on_a_terminal_ends_cleanly() -> None:
    buffer = io.StringIO()
    reporter = ConsoleReporter(file=buffer, live=True)
    with reporter:
        reporter.on_step_start("ci", "build")
        reporter.on_output("ci", "build", b"line\n")
        reporter.on_step_end("ci", StepOutcome("build", Status.SUCCESS))
    assert "[build] line" in buffer.getvalue()
