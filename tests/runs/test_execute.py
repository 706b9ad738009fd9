"""Runs: execute — a run end to end in this process: file:// repository, mirror checkout, local executor."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shera.gitops.mirror import Mirrors
from shera.model.records import ProjectRecord, RunRecord
from shera.plugins import Registry
from shera.runs.approve import approve, decline
from shera.runs.cancel import cancel
from shera.runs.create import create_from_hook
from shera.runs.execute import WorkerContext, execute_run
from shera.store import logs as log_store
from shera.store import runs as run_store
from shera.store import steps as step_store
from shera.store.db import Database
from shera.store.secrets import put_secret
from tests.runs.support import make_project, make_repo, push_hook, settings_for

PIPELINE = """\
steps:
  build:
    image: alpine
    commands:
      - echo building $CI_COMMIT_SHA
      - echo "token is $TOKEN"
    environment:
      TOKEN:
        from_secret: deploy_token
  test:
    image: alpine
    commands:
      - echo tested
"""


class Env:
    """A project on a file:// repository, and a worker context executing in this process."""

    def __init__(self, db: Database, tmp_path: Path, pipeline: str, **project: Any) -> None:
        self.db = db
        self.url, self.sha = make_repo(tmp_path / "repo", {".shera.yml": pipeline})
        values: dict[str, Any] = {"clone_url": self.url, "executor": "local", "trusted": True}
        values.update(project)
        self.project: ProjectRecord = make_project(db, **values)
        settings = settings_for(tmp_path, log_cap_bytes=4096)
        mirrors = Mirrors(settings.data_dir / "mirrors", settings.allowed_git_schemes)
        self.statuses: list[tuple[str, str]] = []
        self.ctx = WorkerContext(
            db=db,
            settings=settings,
            worker_id="test-worker",
            checkout=mirrors.checkout,
            registry=Registry.from_entry_points(),
            status_hook=lambda run, state: self.statuses.append((run.id, state)),
            check_interval=0.05,
            approval_poll=0.05,
        )

    def push(self) -> str:
        outcome = create_from_hook(self.db, self.project, "github", push_hook(self.sha))
        assert outcome.run_id is not None
        return outcome.run_id

    def run(self, run_id: str) -> RunRecord:
        run = run_store.get_run(self.db, run_id, None)
        assert run is not None
        return run

    def log(self, run_id: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for piece in log_store.read_log(self.db, run_id):
            out[piece.step] = out.get(piece.step, b"") + piece.data
        return out


def wait_for(predicate: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_push_runs_to_success_with_steps_and_masked_logs(database: Database, tmp_path: Path) -> None:
    env = Env(database, tmp_path, PIPELINE)
    put_secret(database, env.project.id, env.project.tenant_id, "deploy_token", "hunter2-secret", [])
    run_id = env.push()
    assert execute_run(env.ctx, run_id) == "success"
    run = env.run(run_id)
    assert (run.status, run.lease_owner, run.attempts) == ("success", None, 1)
    assert run.started_at is not None and run.finished_at is not None
    steps = step_store.list_steps(database, run_id)
    assert [(s.workflow, s.name, s.status) for s in steps] == [
        ("shera", "setup", "success"),
        ("shera", "clone", "success"),
        ("shera", "build", "success"),
        ("shera", "test", "success"),
    ]
    logs = env.log(run_id)
    assert f"building {env.sha}".encode() in logs["build"]
    assert b"token is ********" in logs["build"]
    assert b"hunter2-secret" not in b"".join(logs.values())
    assert b"tested" in logs["test"]
    assert env.statuses == [(run_id, "pending"), (run_id, "success")]
    assert not (env.ctx.settings.data_dir / "workspaces" / run_id).exists()
    # Delivered again (at-least-once queue): nothing runs twice.
    assert execute_run(env.ctx, run_id) is None
    assert env.run(run_id).attempts == 1


def test_secrets_are_withheld_from_forks(database: Database, tmp_path: Path) -> None:
    env = Env(database, tmp_path, PIPELINE)
    put_secret(database, env.project.id, env.project.tenant_id, "deploy_token", "hunter2-secret", [])
    hook = push_hook(env.sha, from_fork=True)
    run_id = create_from_hook(database, env.project, "github", hook).run_id or ""
    assert execute_run(env.ctx, run_id) == "failure"
    build = next(s for s in step_store.list_steps(database, run_id) if s.name == "build")
    assert build.status == "failure" and "fork" in (build.error or "")


def test_local_executor_is_refused_for_untrusted_projects(database: Database, tmp_path: Path) -> None:
    env = Env(database, tmp_path, PIPELINE, trusted=False)
    run_id = env.push()
    assert execute_run(env.ctx, run_id) == "failure"
    assert env.run(run_id).reason == "executor_refused"
    assert b"only projects marked trusted" in env.log(run_id)["setup"]
    assert [s.status for s in step_store.list_steps(database, run_id)] == ["failure"]


def test_pipeline_errors_fail_the_run_with_located_problems(database: Database, tmp_path: Path) -> None:
    env = Env(database, tmp_path, "steps:\n  build:\n    image: alpine\n    commandz: [true]\n")
    run_id = env.push()
    assert execute_run(env.ctx, run_id) == "failure"
    assert env.run(run_id).reason == "pipeline_invalid"
    setup = env.log(run_id)["setup"].decode()
    assert ".shera.yml:4:" in setup and "commandz" in setup


def test_a_missing_commit_fails_the_run(database: Database, tmp_path: Path) -> None:
    env = Env(database, tmp_path, PIPELINE)
    env.sha = "f" * 40
    run_id = env.push()
    assert execute_run(env.ctx, run_id) == "failure"
    assert env.run(run_id).reason == "checkout_failed"


def test_the_log_of_a_step_is_capped(database: Database, tmp_path: Path) -> None:
    pipeline = (
        "steps:\n  loud:\n    image: alpine\n    commands:\n      - head -c 100000 /dev/zero | tr '\\\\0' x\n"
    )
    env = Env(database, tmp_path, pipeline)
    run_id = env.push()
    assert execute_run(env.ctx, run_id) == "success"
    loud = next(s for s in step_store.list_steps(database, run_id) if s.name == "loud")
    assert loud.log_truncated and loud.log_bytes == 4096
    text = env.log(run_id)["loud"]
    assert text.endswith(b"[log truncated at 4096 bytes]\n")
    assert len(text) < 4096 + 100


APPROVAL = """\
steps:
  ask:
    uses: approve
    with:
      message: ship it?
  deploy:
    image: alpine
    commands:
      - echo deployed
"""


def start(env: Env, run_id: str) -> tuple[threading.Thread, list[str | None]]:
    result: list[str | None] = []
    thread = threading.Thread(target=lambda: result.append(execute_run(env.ctx, run_id)))
    thread.start()
    return thread, result


@pytest.mark.parametrize("decision", ["approve", "decline"])
def test_an_approve_step_waits_for_the_decision(database: Database, tmp_path: Path, decision: str) -> None:
    env = Env(database, tmp_path, APPROVAL)
    run_id = env.push()
    thread, result = start(env, run_id)
    wait_for(lambda: env.run(run_id).status == "pending_approval")
    wait_for(lambda: b"waiting for approval: ship it?" in env.log(run_id).get("ask", b""))
    if decision == "approve":
        approve(database, run_id, env.project.tenant_id, actor="boss")
    else:
        decline(database, run_id, env.project.tenant_id, actor="boss")
    thread.join(20)
    run = env.run(run_id)
    steps = {s.name: s.status for s in step_store.list_steps(database, run_id)}
    if decision == "approve":
        assert result == ["success"] and run.status == "success"
        assert b"deployed" in env.log(run_id)["deploy"]
        assert steps["ask"] == "success"
    else:
        assert (run.status, run.reason) == ("failure", "declined")
        assert steps["ask"] in ("failure", "killed") and steps["deploy"] in ("skipped", "killed")


def test_cancelling_a_running_run_stops_its_steps(database: Database, tmp_path: Path) -> None:
    env = Env(database, tmp_path, "steps:\n  slow:\n    image: alpine\n    commands:\n      - sleep 30\n")
    run_id = env.push()
    thread, result = start(env, run_id)
    wait_for(
        lambda: any(
            s.status == "running" and s.name == "slow" for s in step_store.list_steps(database, run_id)
        )
    )
    began = time.monotonic()
    cancel(database, run_id, env.project.tenant_id)
    thread.join(20)
    assert time.monotonic() - began < 10
    assert result == ["killed"]
    run = env.run(run_id)
    assert (run.status, run.reason) == ("killed", "cancelled")
    slow = next(s for s in step_store.list_steps(database, run_id) if s.name == "slow")
    assert slow.status == "killed"


def test_a_stopping_worker_requeues_its_runs(database: Database, tmp_path: Path) -> None:
    env = Env(database, tmp_path, "steps:\n  slow:\n    image: alpine\n    commands:\n      - sleep 30\n")
    run_id = env.push()
    thread, result = start(env, run_id)
    wait_for(
        lambda: any(
            s.status == "running" for s in step_store.list_steps(database, run_id) if s.name == "slow"
        )
    )
    env.ctx.stop_all()
    thread.join(20)
    assert result == ["queued"]
    run = env.run(run_id)
    assert (run.status, run.reason, run.lease_owner) == ("queued", "worker_stopped", None)
