"""The stub executor behaves like Woodpecker's dummy backend: exit code, OOM, sleep, start failure."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from shera.errors import ExecutorError
from shera.executors.base import Executor, WorkflowContext
from shera.executors.stub import StubExecutor, parse_go_duration
from shera.model.plan import StepKind, StepPlan
from shera.model.status import Status
from shera.plugins import EXECUTORS, Registry


def prepared(tmp_path: Path) -> StubExecutor:
    stub = StubExecutor()
    stub.prepare(WorkflowContext(name="wf", workspace_dir=tmp_path))
    return stub


def step(name: str = "build", *commands: str) -> StepPlan:
    return StepPlan(name=name, kind=StepKind.COMMANDS, image="dummy", commands=commands or ("echo hi",))


def test_is_an_executor_found_by_name() -> None:
    cls = Registry.from_entry_points().get(EXECUTORS, "stub")
    assert cls is StubExecutor
    assert isinstance(StubExecutor(), Executor)


def test_success_echoes_commands_and_records_calls(tmp_path: Path) -> None:
    stub = prepared(tmp_path)
    out: list[bytes] = []
    result = stub.run_step(step("build", "make", "make test"), {"A": "1"}, out.append)
    stub.teardown()
    assert (result.status, result.exit_code, result.oom_killed) == (Status.SUCCESS, 0, False)
    assert b"".join(out) == b"+ make\n+ make test\n"
    assert stub.calls == [("prepare", "wf"), ("run_step", "build"), ("teardown", "")]
    assert stub.envs["build"] == {"A": "1"}


@pytest.mark.parametrize(
    ("code", "status", "exit_code"),
    [("1", Status.FAILURE, 1), (" 2 ", Status.FAILURE, 2), ("x", Status.SUCCESS, 0)],
)
def test_step_exit_code(tmp_path: Path, code: str, status: Status, exit_code: int) -> None:
    result = prepared(tmp_path).run_step(step(), {"STEP_EXIT_CODE": code}, lambda _: None)
    assert (result.status, result.exit_code) == (status, exit_code)


def test_oom_killed(tmp_path: Path) -> None:
    env = {"STEP_OOM_KILLED": "true", "STEP_EXIT_CODE": "137"}
    result = prepared(tmp_path).run_step(step(), env, lambda _: None)
    assert (result.status, result.exit_code, result.oom_killed) == (Status.FAILURE, 137, True)


def test_sleep_takes_its_time(tmp_path: Path) -> None:
    start = time.monotonic()
    result = prepared(tmp_path).run_step(step(), {"SLEEP": "150ms"}, lambda _: None)
    assert result.status is Status.SUCCESS
    assert time.monotonic() - start >= 0.15


def test_timeout_kills_a_sleeping_step(tmp_path: Path) -> None:
    stub = prepared(tmp_path)
    start = time.monotonic()
    result = stub.run_step(step(), {"SLEEP": "30s"}, lambda _: None, timeout=0.1)
    assert (result.status, result.exit_code) == (Status.KILLED, 137)
    assert time.monotonic() - start < 5
    assert stub.running == set()


def test_cancel_kills_a_sleeping_step(tmp_path: Path) -> None:
    stub = prepared(tmp_path)
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    result = stub.run_step(step(), {"SLEEP": "30s"}, lambda _: None, cancel=cancel)
    assert result.status is Status.KILLED


def test_start_failure_and_bad_sleep_raise(tmp_path: Path) -> None:
    stub = prepared(tmp_path)
    with pytest.raises(ExecutorError, match="could not be started"):
        stub.run_step(step(), {"STEP_START_FAIL": "true"}, lambda _: None)
    with pytest.raises(ExecutorError, match="SLEEP"):
        stub.run_step(step(), {"SLEEP": "soon"}, lambda _: None)


def test_steps_outside_prepare_and_teardown_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError):
        StubExecutor().run_step(step(), {}, lambda _: None)
    stub = prepared(tmp_path)
    stub.teardown()
    with pytest.raises(ExecutorError):
        stub.run_step(step(), {}, lambda _: None)


def test_services_run_until_teardown(tmp_path: Path) -> None:
    stub = prepared(tmp_path)
    stub.start_service(step("db"), {}, lambda _: None)
    assert stub.running == {"db"}
    stub.teardown()
    stub.teardown()  # idempotent
    assert stub.running == set()


@pytest.mark.parametrize(
    ("text", "seconds"), [("100ms", 0.1), ("1.5s", 1.5), ("1m30s", 90.0), ("0", 0.0), ("2h", 7200.0)]
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1x", "ms"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)
