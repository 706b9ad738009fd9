"""run_plan with the real local executor: a timeout and a cancel leave no process behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from shera.model.event import Event
from shera.model.plan import Plan, StepKind, StepPlan, WorkflowPlan
from shera.model.status import Status
from shera.runtime.engine import run_plan
from tests.support.processes import alive

local = pytest.importorskip("shera.executors.local")


def sleeper_plan(pidfile: Path) -> Plan:
    step = StepPlan(
        name="slow", kind=StepKind.COMMANDS, commands=("sleep 60 &", f"echo $! > {pidfile}", "wait")
    )
    after = StepPlan(name="after", kind=StepKind.COMMANDS, commands=("echo after",))
    return Plan((WorkflowPlan(name="ci", stages=((step,), (after,))),))


def run(tmp_path: Path, **kw: object) -> tuple[Status, dict[str, tuple[str, int]]]:
    result = run_plan(
        sleeper_plan(tmp_path / "pid"),
        executor_factory=lambda _wf: local.LocalExecutor(kill_grace=1.0),
        event=Event(),
        work_dir=tmp_path / "work",
        **kw,  # type: ignore[arg-type]
    )
    return result.status, {s.name: (str(s.status), s.exit_code) for s in result.steps}


def test_timeout_kills_the_step_and_its_children(tmp_path: Path) -> None:
    start = time.monotonic()
    status, steps = run(tmp_path, step_timeout=1.0)
    assert time.monotonic() - start < 15
    assert status is Status.FAILURE
    assert steps == {"slow": ("killed", 137), "after": ("skipped", 0)}
    assert not alive(int((tmp_path / "pid").read_text()))


def test_cancel_kills_the_step_and_its_children(tmp_path: Path) -> None:
    cancel = threading.Event()
    pidfile = tmp_path / "pid"

    def cancel_when_started() -> None:
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.02)
        cancel.set()

    watcher = threading.Thread(target=cancel_when_started)
    watcher.start()
    status, steps = run(tmp_path, cancel=cancel)
    watcher.join()
    assert status is Status.KILLED
    assert steps == {"slow": ("killed", 137), "after": ("skipped", 0)}
    assert not alive(int(pidfile.read_text()))
