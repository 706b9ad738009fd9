"""run_plan: stages in order, parallel steps, run_on, failure: ignore, services, detach, env, secrets."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from shera.executors.base import StepResult
from shera.model.event import Event
from shera.model.plan import Plan, StepKind, StepPlan
from shera.model.status import Status
from shera.runtime.engine import run_plan
from shera.steps.runner import KindContext, KindResult
from tests.runtime.support import Recorder, Stubs, cmd, run_stub, statuses, workflow


def test_stages_run_in_order_and_a_failure_skips_the_rest(tmp_path: Path) -> None:
    plan = Plan((workflow("ci", (cmd("a"),), (cmd("b", env={"STEP_EXIT_CODE": "3"}),), (cmd("c"),)),))
    result, stubs, _ = run_stub(plan, tmp_path)
    assert result.status is Status.FAILURE
    assert statuses(result) == {"a": ("success", 0), "b": ("failure", 3), "c": ("skipped", 0)}
    assert [c for c in stubs.made["ci"].calls if c[0] == "run_step"] == [("run_step", "a"), ("run_step", "b")]
    assert stubs.made["ci"].calls[-1] == ("teardown", "")


def test_steps_of_a_stage_run_concurrently(tmp_path: Path) -> None:
    slow = {"SLEEP": "400ms"}
    plan = Plan((workflow("ci", (cmd("x", env=slow), cmd("y", env=slow), cmd("z", env=slow))),))
    start = time.monotonic()
    result, _, _ = run_stub(plan, tmp_path)
    assert result.status is Status.SUCCESS
    assert time.monotonic() - start < 1.0  # three 400 ms steps, not 1.2 s


def test_failure_ignore_and_status_failure_steps(tmp_path: Path) -> None:
    plan = Plan(
        (
            workflow(
                "ci",
                (cmd("lint", env={"STEP_EXIT_CODE": "1"}, failure_ignore=True),),
                (cmd("build", env={"STEP_EXIT_CODE": "2"}),),
                (cmd("notify", run_on=frozenset({"failure"})),),
                (cmd("always", run_on=frozenset({"success", "failure"})),),
                (cmd("deploy"),),
            ),
        )
    )
    result, _, _ = run_stub(plan, tmp_path)
    assert statuses(result) == {
        "lint": ("failure", 1),
        "build": ("failure", 2),
        "notify": ("success", 0),
        "always": ("success", 0),
        "deploy": ("skipped", 0),
    }
    assert result.workflows[0].status is Status.FAILURE


def test_ignored_failure_keeps_the_workflow_green(tmp_path: Path) -> None:
    plan = Plan(
        (workflow("ci", (cmd("lint", env={"STEP_EXIT_CODE": "1"}, failure_ignore=True),), (cmd("b"),)),)
    )
    result, _, _ = run_stub(plan, tmp_path)
    assert result.status is Status.SUCCESS
    assert statuses(result)["b"] == ("success", 0)


def test_services_start_first_appear_as_steps_and_stop_at_the_end(tmp_path: Path) -> None:
    db = StepPlan(name="db", kind=StepKind.SERVICE, image="dummy")
    plan = Plan((workflow("ci", (cmd("test"),), services=(db,)),))
    result, stubs, recorder = run_stub(plan, tmp_path)
    calls = stubs.made["ci"].calls
    assert calls.index(("start_service", "db")) < calls.index(("run_step", "test"))
    assert stubs.made["ci"].running == set()
    assert statuses(result) == {"db": ("success", 0), "test": ("success", 0)}
    assert ("step_end", "ci", "db:success") in recorder.events


def test_a_service_that_cannot_start_fails_the_workflow(tmp_path: Path) -> None:
    db = StepPlan(name="db", kind=StepKind.SERVICE, image="dummy", environment={"STEP_START_FAIL": "true"})
    plan = Plan((workflow("ci", (cmd("test"),), services=(db,)),))
    result, _, _ = run_stub(plan, tmp_path)
    assert statuses(result) == {"db": ("failure", 1), "test": ("skipped", 0)}
    assert result.status is Status.FAILURE


def test_detached_steps_are_started_like_services(tmp_path: Path) -> None:
    plan = Plan((workflow("ci", (cmd("server", detach=True),), (cmd("client"),)),))
    result, stubs, _ = run_stub(plan, tmp_path)
    assert ("start_service", "server") in stubs.made["ci"].calls
    assert statuses(result) == {"server": ("success", 0), "client": ("success", 0)}


def test_uses_steps_without_a_runner_fail_clearly(tmp_path: Path) -> None:
    build = StepPlan(name="image", kind=StepKind.USES, uses="build", with_={"context": "."})
    result, stubs, _ = run_stub(Plan((workflow("ci", (build,)),)), tmp_path)
    outcome = result.steps[0]
    assert (outcome.status, outcome.exit_code) == (Status.FAILURE, 1)
    assert outcome.error == "step kind 'build' cannot run here (runners available: none)"
    assert ("run_step", "image") not in stubs.made["ci"].calls


class RecordingRunner:
    """A step-kind runner that records its context and reports an image artifact."""

    kind = "build"

    def __init__(self) -> None:
        self.contexts: list[KindContext] = []

    def run(self, ctx: KindContext) -> KindResult:
        self.contexts.append(ctx)
        ctx.out(f"building {ctx.step.with_['context']} with {ctx.env['TOKEN']}\n".encode())
        return KindResult(
            StepResult(Status.SUCCESS, 0), {"images": [{"ref": "r/app:1", "digest": "sha256:ab"}]}
        )


def test_uses_steps_run_through_their_runner_with_secrets_masked(tmp_path: Path) -> None:
    runner = RecordingRunner()
    build = StepPlan(
        name="image", kind=StepKind.USES, uses="build", with_={"context": "."}, secrets={"TOKEN": "api_token"}
    )
    recorder = Recorder()
    result = run_plan(
        Plan((workflow("ci", (build,)),)),
        executor_factory=Stubs(),
        event=Event(),
        secrets={"api_token": "tok-98765"},
        work_dir=tmp_path,
        reporter=recorder,
        runners={"build": runner},
        project="p1",
    )
    (outcome,) = result.steps
    assert outcome.status is Status.SUCCESS
    assert outcome.summary()["images"] == [{"ref": "r/app:1", "digest": "sha256:ab"}]
    (ctx,) = runner.contexts
    assert (ctx.project, ctx.secrets) == ("p1", {"api_token": "tok-98765"})
    assert b"building . with ********" in recorder.output["image"]


def test_environment_precedence(tmp_path: Path) -> None:
    step = cmd("s", env={"FROM_STEP": "step", "BOTH": "step", "OVER": "step"}, secrets={"TOKEN": "api_token"})
    plan = Plan((workflow("ci", (step,), environment={"FROM_WF": "wf", "BOTH": "wf"}),))
    event = Event()
    result, stubs, _ = run_stub(
        plan, tmp_path, event=event, secrets={"api_token": "tok-123"}, env={"OVER": "cli"}
    )
    env = stubs.made["ci"].envs["s"]
    assert result.status is Status.SUCCESS
    assert (env["FROM_WF"], env["FROM_STEP"], env["BOTH"], env["OVER"]) == ("wf", "step", "step", "cli")
    assert env["TOKEN"] == "tok-123"
    assert env["CI_PIPELINE_STATUS"] == "success"
    assert env["CI_STEP_NAME"] == "s"


def test_injected_variables_provider_is_used(tmp_path: Path) -> None:
    plan = Plan((workflow("ci", (cmd("s"),)),))
    result, stubs, _ = run_stub(
        plan, tmp_path, variables=lambda wf, step, ws: {"CI_REPO": f"{wf.name}/{step.name}:{ws}"}
    )
    assert stubs.made["ci"].envs["s"]["CI_REPO"] == "ci/s:/woodpecker/src"
    assert result.status is Status.SUCCESS


def test_missing_secret_fails_the_step_with_a_clear_error(tmp_path: Path) -> None:
    plan = Plan((workflow("ci", (cmd("s", secrets={"TOKEN": "api_token"}),)),))
    result, stubs, _ = run_stub(plan, tmp_path)
    outcome = result.steps[0]
    assert outcome.status is Status.FAILURE
    assert outcome.error is not None and "'api_token'" in outcome.error and "--secret" in outcome.error
    assert ("run_step", "s") not in stubs.made["ci"].calls


def test_pull_requests_from_forks_get_no_secrets(tmp_path: Path) -> None:
    plan = Plan((workflow("ci", (cmd("s", secrets={"TOKEN": "api_token"}),)),))
    result, _, _ = run_stub(plan, tmp_path, event=Event(from_fork=True), secrets={"api_token": "tok-123"})
    assert result.steps[0].error is not None and "forks" in result.steps[0].error


def test_secrets_are_masked_in_output_and_errors(tmp_path: Path) -> None:
    step = StepPlan(name="leak", kind=StepKind.COMMANDS, commands=("echo hunter2-secret",))
    result, _, recorder = run_stub(
        Plan((workflow("ci", (step,)),)), tmp_path, secrets={"pw": "hunter2-secret"}
    )
    assert result.status is Status.SUCCESS
    assert recorder.output["leak"] == b"+ echo ********\n"


def test_step_timeout_kills(tmp_path: Path) -> None:
    plan = Plan((workflow("ci", (cmd("slow", env={"SLEEP": "30s"}),), (cmd("after"),)),))
    start = time.monotonic()
    result, stubs, _ = run_stub(plan, tmp_path, step_timeout=0.2)
    assert time.monotonic() - start < 5
    assert statuses(result) == {"slow": ("killed", 137), "after": ("skipped", 0)}
    assert result.status is Status.FAILURE
    assert stubs.made["ci"].running == set()


def test_a_steps_own_timeout_wins(tmp_path: Path) -> None:
    plan = Plan((workflow("ci", (cmd("slow", env={"SLEEP": "30s"}, timeout_s=0.1),)),))
    result, _, _ = run_stub(plan, tmp_path, step_timeout=60)
    assert statuses(result) == {"slow": ("killed", 137)}


def test_clone_copies_the_source_with_git(tmp_path: Path) -> None:
    source = tmp_path / "repo"
    (source / ".git").mkdir(parents=True)
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / "app.py").write_text("print(1)\n")
    clone = StepPlan(name="clone", kind=StepKind.CLONE)
    result, stubs, recorder = run_stub(
        Plan((workflow("ci", (clone,), (cmd("b"),)),)), tmp_path, source_dir=source
    )
    assert statuses(result) == {"clone": ("success", 0), "b": ("success", 0)}
    ctx = stubs.made["ci"].context
    assert ctx is not None
    copied = ctx.workspace_dir / ctx.workspace.path
    assert (copied / "app.py").read_text() == "print(1)\n"
    assert (copied / ".git" / "HEAD").is_file()
    assert b"copied 2 files" in recorder.output["clone"]
    # Not a checkout of the run's own: the user's tree is only read.
    assert (source / "app.py").is_file()


def test_a_runs_own_checkout_is_moved_by_its_last_clone_and_copied_before(tmp_path: Path) -> None:
    source = tmp_path / "checkout"
    (source / ".git").mkdir(parents=True)
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / "app.py").write_text("print(1)\n")
    clone = StepPlan(name="clone", kind=StepKind.CLONE)
    first = workflow("first", (clone,), (cmd("a"),))
    second = dataclasses.replace(workflow("second", (clone,), (cmd("b"),)), depends_on=("first",))
    result, stubs, recorder = run_stub(
        Plan((first, second)), tmp_path, source_dir=source, source_disposable=True
    )
    assert result.status is Status.SUCCESS
    for name in ("first", "second"):
        ctx = stubs.made[name].context
        assert ctx is not None
        assert (ctx.workspace_dir / ctx.workspace.path / "app.py").read_text() == "print(1)\n"
    # The first workflow got a copy; the second, the last clone of the run, took the checkout itself.
    first_log, second_log, _ = recorder.output["clone"].split(b"\n")
    assert first_log.startswith(b"copied 2 files") and second_log.startswith(b"moved the checkout")
    assert not source.exists()


def test_every_step_gets_times(tmp_path: Path) -> None:
    result, _, _ = run_stub(Plan((workflow("ci", (cmd("a", env={"SLEEP": "50ms"}),)),)), tmp_path)
    step = result.steps[0]
    assert step.started_at is not None and step.finished_at is not None
    assert step.finished_at >= step.started_at
    assert step.duration_s >= 0.05
