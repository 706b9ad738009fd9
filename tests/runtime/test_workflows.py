"""Workflows: dependency order, skipping after a failed dependency, run_on failure, parallel workflows."""

from __future__ import annotations

import time
from pathlib import Path

from shera.model.plan import Plan
from shera.model.status import Status
from tests.runtime.support import cmd, run_stub, statuses, workflow


def wf_status(result: object) -> dict[str, str]:
    return {wf.name: str(wf.status) for wf in result.workflows}  # type: ignore[attr-defined]


def test_dependents_run_after_their_dependency(tmp_path: Path) -> None:
    plan = Plan(
        (
            workflow("deploy", (cmd("d"),), depends_on=("build",)),
            workflow("build", (cmd("b", env={"SLEEP": "100ms"}),)),
        )
    )
    result, _, recorder = run_stub(plan, tmp_path)
    assert wf_status(result) == {"deploy": "success", "build": "success"}
    ends = [e for e in recorder.events if e[0] in ("workflow_start", "workflow_end")]
    assert ends.index(("workflow_end", "build", "success")) < ends.index(("workflow_start", "deploy", ""))


def test_independent_workflows_run_in_parallel(tmp_path: Path) -> None:
    slow = {"SLEEP": "400ms"}
    plan = Plan((workflow("a", (cmd("x", env=slow),)), workflow("b", (cmd("y", env=slow),))))
    start = time.monotonic()
    result, _, _ = run_stub(plan, tmp_path)
    assert result.status is Status.SUCCESS
    assert time.monotonic() - start < 0.75


def test_a_failed_dependency_skips_the_dependent_like_woodpecker(tmp_path: Path) -> None:
    plan = Plan(
        (
            workflow("build", (cmd("compile", env={"STEP_EXIT_CODE": "1"}),)),
            workflow("deploy", (cmd("deploy"),), depends_on=("build",)),
            workflow("after-deploy", (cmd("later"),), depends_on=("deploy",)),
        )
    )
    result, stubs, _ = run_stub(plan, tmp_path)
    assert wf_status(result) == {"build": "failure", "deploy": "skipped", "after-deploy": "skipped"}
    # Woodpecker reports the steps of such a workflow as killed with exit code 0 (e2e scenario 13).
    assert statuses(result)["deploy"] == ("killed", 0)
    assert "deploy" not in stubs.made  # no executor was even made for it
    assert result.status is Status.FAILURE


def test_a_workflow_asking_for_failure_runs_after_a_failed_dependency(tmp_path: Path) -> None:
    plan = Plan(
        (
            workflow("build", (cmd("compile", env={"STEP_EXIT_CODE": "1"}),)),
            workflow("notify", (cmd("mail"),), depends_on=("build",), run_on=frozenset({"failure"})),
        )
    )
    result, _, _ = run_stub(plan, tmp_path)
    assert wf_status(result) == {"build": "failure", "notify": "success"}


def test_dependencies_outside_the_plan_or_skipped_by_when_are_ignored(tmp_path: Path) -> None:
    plan = Plan(
        (
            workflow("check-b", (cmd("b"),), skipped=True),
            workflow("deploy", (cmd("d"),), depends_on=("check-b", "ghost")),
        )
    )
    result, _, _ = run_stub(plan, tmp_path)
    assert wf_status(result) == {"deploy": "success"}  # a workflow skipped by `when` is not in the result


def test_each_workflow_gets_its_own_workspace_and_executor(tmp_path: Path) -> None:
    plan = Plan((workflow("a b", (cmd("x"),)), workflow("A-B", (cmd("y"),))))
    _, stubs, _ = run_stub(plan, tmp_path)
    contexts = [stubs.made[name].context for name in ("a b", "A-B")]
    assert all(ctx is not None for ctx in contexts)
    names = {ctx.name for ctx in contexts if ctx}
    dirs = {ctx.workspace_dir for ctx in contexts if ctx}
    assert len(names) == 2 and len(dirs) == 2
    assert all(name.replace("-", "").isalnum() and name.islower() for name in names)
