"""End to end on real parts: ``shera up`` (private Redis, SQLite, worker child), a git repo, a signed push.

Given a tenant, a project on a ``file://`` repository with a ``.shera.yml`` and a secret, when a signed
GitHub push webhook arrives, then a run is queued, executed by the worker and ends ``success`` with the step
output in its logs and the secret masked; a redelivery of the same push starts no second run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.support.server import Server, github_push, make_repo, sign_github

PIPELINE = """
steps:
  - name: greet
    image: busybox
    environment:
      TOKEN:
        from_secret: deploy_token
    commands:
      - echo "hello from $CI_COMMIT_BRANCH at $CI_COMMIT_SHA"
      - echo "token=$TOKEN"
"""


def setup_project(server: Server, repo_url: str) -> tuple[str, dict[str, str]]:
    """A tenant, its admin token and a trusted local-executor project; returns the token and the project."""
    with server.api() as admin:
        tenant = admin.post("/api/v1/tenants", json={"name": "etheria"}).raise_for_status().json()
        token = (
            admin.post(f"/api/v1/tenants/{tenant['id']}/tokens", json={"name": "ci", "role": "admin"})
            .raise_for_status()
            .json()["token"]
        )
    with server.api(token) as client:
        project = (
            client.post(
                "/api/v1/projects",
                json={
                    "name": "app",
                    "forge": "github",
                    "clone_url": repo_url,
                    "default_branch": "main",
                    "executor": "local",
                    "trusted": True,
                },
            )
            .raise_for_status()
            .json()
        )
        client.put(
            f"/api/v1/projects/{project['id']}/secrets/deploy_token",
            json={"value": "s3cr3t-deploy-value", "events": ["push"]},
        ).raise_for_status()
    return token, project


def send_push(project: dict[str, str], payload: dict[str, object], delivery: str) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign_github(body, project["webhook_secret"]),
    }
    return httpx.post(project["hook_url"], content=body, headers=headers, timeout=30)


def test_signed_push_runs_the_pipeline(shera_up: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    sha = repo.commit({".shera.yml": PIPELINE}, "first pipeline")
    token, project = setup_project(shera_up, repo.url)
    payload = github_push(repo.url, sha, "0" * 40, "first pipeline")

    accepted = send_push(project, payload, "delivery-1")
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]

    run = shera_up.wait_run(token, run_id)
    assert run["status"] == "success", run
    assert run["sha"] == sha and run["event"] == "push"
    # "setup" is She-Ra's own step: mirror fetch, checkout and pipeline loading
    assert [s["name"] for s in run["steps"]] == ["setup", "clone", "greet"]
    assert all(s["status"] == "success" and s["exit_code"] == 0 for s in run["steps"])
    with shera_up.api(token) as client:
        logs = client.get(f"/api/v1/runs/{run_id}/logs").text
    assert f"hello from main at {sha}" in logs
    assert "token=********" in logs and "s3cr3t-deploy-value" not in logs

    # The same delivery again, and the same push under another delivery id: no second run.
    assert send_push(project, payload, "delivery-1").json()["status"] == "duplicate"
    assert send_push(project, payload, "delivery-2").json()["status"] == "duplicate"
    with shera_up.api(token) as client:
        runs = client.get(f"/api/v1/projects/{project['id']}/runs").json()
    assert [r["id"] for r in runs["data"]] == [run_id]


def test_forged_signature_is_rejected_and_nothing_runs(shera_up: Server, tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    sha = repo.commit({".shera.yml": PIPELINE}, "first pipeline")
    token, project = setup_project(shera_up, repo.url)
    payload = github_push(repo.url, sha, "0" * 40, "first pipeline")
    forged = dict(project, webhook_secret="not-the-secret")
    assert send_push(forged, payload, "delivery-x").status_code == 401
    time.sleep(0.5)
    with shera_up.api(token) as client:
        runs = client.get(f"/api/v1/projects/{project['id']}/runs").json()
    assert runs["data"] == []


def test_up_announces_its_url_once_the_worker_takes_runs(shera_up: Server) -> None:
    # Scripts start pushing as soon as the URL is printed: by then the worker has said it is ready.
    assert any(line.startswith("She-Ra is up at ") for line in shera_up.lines)
    worker_log = (shera_up.data_dir / "logs" / "worker.log").read_text()
    assert "She-Ra worker ready: " in worker_log
