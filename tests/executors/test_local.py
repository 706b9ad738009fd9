"""Tests of the local executor: real ``/bin/sh`` process groups in a temporary workspace."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shera.executors.base import KILLED_EXIT_CODE, Executor, WorkflowContext
from shera.executors.local import LocalExecutor
from shera.model.plan import StepKind, StepPlan
from shera.model.status import Status
from tests.support.output import Sink
from tests.support.processes import alive


def step(*commands: str, name: str = "step", **fields: object) -> StepPlan:
    return StepPlan(name=name, kind=StepKind.COMMANDS, commands=commands, **fields)  # type: ignore[arg-type]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def executor(workspace: Path) -> Iterator[LocalExecutor]:
    ex = LocalExecutor(kill_grace=0.5)
    ex.prepare(WorkflowContext(name="wf", workspace_dir=workspace))
    try:
        yield ex
    finally:
        ex.teardown()


def wait_for(path: Path, seconds: float = 5.0) -> str:
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if path.is_file() and (text := path.read_text()).strip():
            return text
        time.sleep(0.01)
    raise AssertionError(f"{path} never appeared")


def test_it_implements_the_executor_protocol() -> None:
    assert isinstance(LocalExecutor(), Executor)
    assert LocalExecutor.name == "local"


def test_success_and_exit_codes_are_reported(executor: LocalExecutor) -> None:
    ok = executor.run_step(step("true"), {}, Sink())
    assert (ok.status, ok.exit_code, ok.error) == (Status.SUCCESS, 0, None)

    # Given a script that fails in its second command, Then the third never runs
    out = Sink()
    failed = executor.run_step(step("echo first", "exit 3", "echo never"), {}, out)
    assert (failed.status, failed.exit_code) == (Status.FAILURE, 3)
    assert "first" in out.text
    assert "never\n" not in out.text.replace("+ echo never", "")


def test_env_is_exactly_the_given_env_plus_path_and_home(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHERA_TEST_LEAK", "host-only")
    out = Sink()
    result = executor.run_step(step("env"), {"GREETING": "hello world", "EMPTY": ""}, out)
    assert result.status is Status.SUCCESS
    lines = set(out.text.splitlines())
    assert "GREETING=hello world" in lines
    assert "EMPTY=" in lines
    assert f"PATH={os.environ['PATH']}" in lines
    assert "SHERA_TEST_LEAK=host-only" not in lines

    # A given PATH wins over the host's
    out = Sink()
    executor.run_step(step('echo "$PATH"'), {"PATH": "/usr/bin:/bin"}, out)
    assert out.text.splitlines()[-1] == "/usr/bin:/bin"


def test_output_is_merged_in_order_and_streamed_while_running(
    executor: LocalExecutor, workspace: Path
) -> None:
    out = Sink()
    result = executor.run_step(step("echo one", "echo two >&2", "echo three"), {}, out)
    assert result.status is Status.SUCCESS
    assert out.text == "+ echo one\none\n+ echo two >&2\ntwo\n+ echo three\nthree\n"

    # Given a step that waits for a file the sink creates once it saw "ready",
    # Then it can only finish if "ready" reached the sink while the step was still running.
    go = workspace / "go"

    def release(chunk: bytes) -> None:
        out2(chunk)
        if b"ready\n" in b"".join(out2.chunks).replace(b"+ echo ready", b""):
            go.touch()

    out2 = Sink()
    streamed = executor.run_step(
        step("echo ready", "while [ ! -e go ]; do sleep 0.01; done", "echo done"), {}, release, timeout=5
    )
    assert streamed.status is Status.SUCCESS
    assert out2.text.endswith("done\n")


def test_directory_is_relative_to_the_workspace_and_may_not_escape(
    executor: LocalExecutor, workspace: Path, tmp_path: Path
) -> None:
    out = Sink()
    result = executor.run_step(step("pwd", directory="sub/dir"), {}, out)
    assert result.status is Status.SUCCESS
    assert out.text.splitlines()[-1] == str((workspace / "sub" / "dir").resolve())

    escaped = executor.run_step(step("touch pwned", directory="../outside"), {}, Sink())
    assert escaped.status is Status.FAILURE
    assert escaped.error is not None
    assert "outside the workspace" in escaped.error
    assert not (tmp_path / "outside").exists()

    (workspace / "link").symlink_to(tmp_path)
    through_link = executor.run_step(step("touch pwned", directory="link"), {}, Sink())
    assert through_link.status is Status.FAILURE
    assert not (tmp_path / "pwned").exists()


def test_timeout_kills_the_whole_group_even_grandchildren_ignoring_sigterm(
    executor: LocalExecutor, workspace: Path
) -> None:
    # Given a grandchild that ignores SIGTERM and a shell waiting on it
    script = step("sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; exec sleep 60' &", "wait")
    started = time.monotonic()
    result = executor.run_step(script, {}, Sink(), timeout=0.5)
    elapsed = time.monotonic() - started

    assert (result.status, result.exit_code) == (Status.KILLED, KILLED_EXIT_CODE)
    pid = int(wait_for(workspace / "grandchild.pid"))
    assert not alive(pid)
    assert elapsed < 0.5 + 0.5 + 1.5  # timeout + kill grace + slack


def test_cancel_kills_the_step(executor: LocalExecutor) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    started = time.monotonic()
    result = executor.run_step(step("sleep 30"), {}, Sink(), cancel=cancel)
    assert (result.status, result.exit_code) == (Status.KILLED, KILLED_EXIT_CODE)
    assert time.monotonic() - started < 3


def test_a_step_that_ends_by_itself_before_the_timeout_is_not_killed(executor: LocalExecutor) -> None:
    result = executor.run_step(step("exit 4"), {}, Sink(), timeout=5, cancel=threading.Event())
    assert (result.status, result.exit_code) == (Status.FAILURE, 4)


def test_background_processes_left_by_a_finished_step_are_ended(
    executor: LocalExecutor, workspace: Path
) -> None:
    result = executor.run_step(step("sleep 60 > /dev/null 2>&1 & echo $! > bg.pid"), {}, Sink())
    assert result.status is Status.SUCCESS
    assert not alive(int(wait_for(workspace / "bg.pid")))


def test_a_plugin_step_fails_with_a_clear_error(executor: LocalExecutor) -> None:
    plugin = StepPlan(name="publish", kind=StepKind.PLUGIN, image="plugins/docker")
    result = executor.run_step(plugin, {}, Sink())
    assert result.status is Status.FAILURE
    assert result.error is not None
    assert "publish" in result.error
    assert "podman" in result.error


def test_service_runs_in_the_background_and_teardown_stops_it(workspace: Path) -> None:
    ex = LocalExecutor(kill_grace=0.5)
    ex.prepare(WorkflowContext(name="wf", workspace_dir=workspace))
    out = Sink()
    service = step("echo $$ > svc.pid", "echo started", "exec sleep 60", name="svc")
    ex.start_service(service, {}, out)
    pid = int(wait_for(workspace / "svc.pid"))
    assert alive(pid)

    # Steps run while the service is up
    assert ex.run_step(step("test -s svc.pid"), {}, Sink()).status is Status.SUCCESS

    ex.teardown()
    assert not alive(pid)
    assert "started\n" in out.text
    ex.teardown()  # idempotent


def test_teardown_before_prepare_is_safe() -> None:
    LocalExecutor().teardown()


def test_overhead_per_step_is_small(executor: LocalExecutor, workspace: Path) -> None:
    """A lenient guard against regressions; ``make bench`` measures the ≤ 10 ms target precisely."""
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        subprocess.run(["/bin/sh", "-c", "true"], cwd=workspace, check=True)
    direct = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(rounds):
        executor.run_step(step("true"), {}, Sink())
    ours = time.perf_counter() - started
    assert (ours - direct) / rounds < 0.025
