"""Cancel and Ctrl-C: running steps are killed, nothing new starts, teardown runs, the run ends killed."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from shera.model.plan import Plan, StepKind, StepPlan
from shera.model.status import Status
from tests.runtime.support import cmd, run_stub, statuses, workflow


def long_plan() -> Plan:
    db = StepPlan(name="db", kind=StepKind.SERVICE, image="dummy")
    return Plan(
        (
            workflow("ci", (cmd("slow", env={"SLEEP": "30s"}),), (cmd("after"),), services=(db,)),
            workflow("later", (cmd("l"),), depends_on=("ci",)),
        )
    )


def test_cancel_kills_running_steps_and_tears_down(tmp_path: Path) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    start = time.monotonic()
    result, stubs, _ = run_stub(long_plan(), tmp_path, cancel=cancel)
    timer.cancel()
    assert time.monotonic() - start < 5
    assert result.status is Status.KILLED
    assert statuses(result) == {
        "db": ("killed", 137),
        "slow": ("killed", 137),
        "after": ("skipped", 0),
        "l": ("skipped", 0),
    }
    assert stubs.made["ci"].running == set()
    assert stubs.made["ci"].calls[-1] == ("teardown", "")
    assert "later" not in stubs.made


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="needs the main thread")
def test_ctrl_c_ends_the_run_killed_with_nothing_running(tmp_path: Path) -> None:
    # Given a run blocked on a 30 s step, when SIGINT arrives (as Ctrl-C sends it) ...
    timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    result, stubs, _ = run_stub(long_plan(), tmp_path)
    timer.cancel()  # had the run ended early, the signal must not hit pytest
    # ... then run_plan returns (no KeyboardInterrupt escapes), the step is killed, the executor torn down.
    assert time.monotonic() - start < 5
    assert result.status is Status.KILLED
    assert statuses(result)["slow"] == ("killed", 137)
    assert stubs.made["ci"].running == set()
    assert ("teardown", "") in stubs.made["ci"].calls
