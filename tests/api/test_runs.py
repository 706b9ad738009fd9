"""Runs through the API: manual trigger (sha or branch), list with filters, detail, and the run verbs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shera.model.records import ProjectRecord, RunRecord
from shera.store import projects, runs, steps
from shera.store.runs import NewRun
from shera.store.steps import StepEnd
from tests.api.conftest import Api, Tenant
from tests.support.server import git

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SHA = "b" * 40


def project_record(api: Api, tenant: Tenant, **fields: Any) -> ProjectRecord:
    created = api.project(tenant, **fields)
    record = projects.get_project(api.db, created["id"], tenant.id)
    assert record is not None
    return record


def add_run(api: Api, project: ProjectRecord, *, branch: str = "main", status: str = "queued") -> RunRecord:
    run = runs.insert_run(
        api.db, project, NewRun(event="push", ref=f"refs/heads/{branch}", branch=branch, sha=SHA)
    )
    if status != "queued":
        assert runs.transition(api.db, run.id, status, ("queued",))
    got = runs.get_run(api.db, run.id, None)
    assert got is not None
    return got


def test_run_detail_has_steps_and_iso_ms_timestamps(api: Api, acme: Tenant) -> None:
    project = project_record(api, acme)
    run = add_run(api, project, status="running")
    ids = steps.create_steps(api.db, run.id, [("build", "compile", "queued"), ("build", "test", "queued")])
    started = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    steps.start_step(api.db, ids[("build", "compile")], started)
    end = StepEnd(
        status="success", exit_code=0, error=None, started_at=started, finished_at=started, duration_s=0.0
    )
    steps.end_step(api.db, ids[("build", "compile")], end, log_bytes=0, log_truncated=False)

    body = api.client.get(f"/api/v1/runs/{run.id}", headers=acme.auth("viewer")).json()

    for key in (
        "id",
        "status",
        "reason",
        "event",
        "ref",
        "sha",
        "created_at",
        "started_at",
        "finished_at",
        "steps",
    ):
        assert key in body
    assert body["status"] == "running" and body["sha"] == SHA and body["event"] == "push"
    assert ISO_MS.match(body["created_at"])
    compile_step = body["steps"][0]
    assert compile_step["name"] == "compile" and compile_step["exit_code"] == 0
    assert compile_step["started_at"] == "2026-01-02T03:04:05.678Z"
    assert body["steps"][1]["name"] == "test" and body["steps"][1]["status"] == "queued"
    assert {"name", "status", "exit_code", "started_at", "finished_at"} <= set(compile_step)


def test_list_runs_filters_by_status_and_branch(api: Api, acme: Tenant) -> None:
    project = project_record(api, acme)
    add_run(api, project, branch="main", status="failure")
    add_run(api, project, branch="dev")
    add_run(api, project, branch="main")
    url = f"/api/v1/projects/{project.id}/runs"

    every = api.client.get(url, headers=acme.auth("viewer")).json()
    on_main = api.client.get(url, params={"branch": "main"}, headers=acme.auth("viewer")).json()
    failed = api.client.get(url, params={"status": "failure"}, headers=acme.auth("viewer")).json()

    assert [r["number"] for r in every["data"]] == [3, 2, 1]
    assert [r["number"] for r in on_main["data"]] == [3, 1]
    assert [r["number"] for r in failed["data"]] == [1]
    assert api.client.get(url, params={"status": "bogus"}, headers=acme.auth()).status_code == 422


def test_manual_trigger_by_sha(api: Api, acme: Tenant) -> None:
    project = project_record(api, acme)
    url = f"/api/v1/projects/{project.id}/runs"
    response = api.client.post(
        url, json={"sha": SHA, "params": {"DEPLOY": "yes"}}, headers=acme.auth("developer")
    )
    assert response.status_code == 201
    body = response.json()
    assert body["event"] == "manual" and body["sha"] == SHA and body["status"] == "queued"
    assert body["params"] == {"DEPLOY": "yes"}
    assert api.client.post(url, json={"sha": SHA}, headers=acme.auth("viewer")).status_code == 403
    assert api.client.post(url, json={"sha": "abc"}, headers=acme.auth()).status_code == 422


def test_manual_trigger_by_branch_resolves_through_the_mirror(api: Api, acme: Tenant, tmp_path: Path) -> None:
    # Given a real repository served as file:// with a commit on branch "feature"
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "f").write_text("x")
    git(repo, "add", "f")
    git(repo, "commit", "-q", "-m", "one")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "f").write_text("y")
    git(repo, "commit", "-q", "-am", "two")
    feature = git(repo, "rev-parse", "HEAD")
    main = git(repo, "rev-parse", "main")
    project = api.project(acme, clone_url=repo.as_uri())
    url = f"/api/v1/projects/{project['id']}/runs"

    by_branch = api.client.post(url, json={"branch": "feature"}, headers=acme.auth("developer"))
    by_default = api.client.post(url, json={}, headers=acme.auth("developer"))
    unknown = api.client.post(url, json={"branch": "nope"}, headers=acme.auth("developer"))

    assert by_branch.status_code == 201, by_branch.text
    assert by_branch.json()["sha"] == feature and by_branch.json()["branch"] == "feature"
    assert by_default.json()["sha"] == main and by_default.json()["branch"] == "main"
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"]


def test_cancel_restart_and_their_roles(api: Api, acme: Tenant) -> None:
    project = project_record(api, acme)
    run = add_run(api, project)
    assert api.client.post(f"/api/v1/runs/{run.id}/cancel", headers=acme.auth("viewer")).status_code == 403

    cancelled = api.client.post(f"/api/v1/runs/{run.id}/cancel", headers=acme.auth("developer"))
    again = api.client.post(f"/api/v1/runs/{run.id}/cancel", headers=acme.auth("developer"))
    restarted = api.client.post(f"/api/v1/runs/{run.id}/restart", headers=acme.auth("developer"))

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "killed"
    assert again.status_code == 409
    assert restarted.status_code == 201
    assert restarted.json()["id"] != run.id and restarted.json()["sha"] == SHA
    assert restarted.json()["status"] == "queued"


def test_approve_needs_maintainer_and_a_waiting_run(api: Api, acme: Tenant) -> None:
    project = project_record(api, acme)
    waiting = add_run(api, project, status="running")
    assert runs.transition(api.db, waiting.id, "pending_approval", ("running",))
    url = f"/api/v1/runs/{waiting.id}"

    assert api.client.post(f"{url}/approve", headers=acme.auth("developer")).status_code == 403
    approved = api.client.post(f"{url}/approve", headers=acme.auth("maintainer"))
    assert approved.status_code == 200
    assert approved.json()["status"] == "running" and approved.json()["approval"] == "approved"
    assert api.client.post(f"{url}/approve", headers=acme.auth("maintainer")).status_code == 409


def test_decline_ends_the_run(api: Api, acme: Tenant) -> None:
    project = project_record(api, acme)
    waiting = add_run(api, project, status="running")
    assert runs.transition(api.db, waiting.id, "pending_approval", ("running",))
    declined = api.client.post(f"/api/v1/runs/{waiting.id}/decline", headers=acme.auth("developer"))
    assert declined.status_code == 200
    assert declined.json()["status"] == "failure" and declined.json()["reason"] == "declined"
    assert ISO_MS.match(declined.json()["finished_at"])


def test_unknown_run_is_404(api: Api, acme: Tenant) -> None:
    response = api.client.get(f"/api/v1/runs/{'0' * 32}", headers=acme.auth())
    assert response.status_code == 404 and response.json() == {"detail": "run not found"}
