"""End to end: the CLI client (``shera login|projects|trigger|runs|logs|cancel``) against a real ``shera up``.

Every command runs as a user would run it: a ``python -m shera`` subprocess, its login saved under a
temporary ``XDG_CONFIG_HOME``. One ``shera up`` serves the whole module; each test has its own project.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import Server, make_repo, start_shera_up


def streaming_pipeline(go: Path) -> str:
    """A step that says hello, waits (up to 20 s) until ``go`` exists, then says goodbye."""
    return f"""
steps:
  - name: greet
    image: busybox
    commands:
      - echo "hello from $CI_COMMIT_BRANCH"
      - timeout 20 sh -c 'until [ -f {go} ]; do sleep 0.05; done'
      - echo "goodbye from $CI_COMMIT_BRANCH"
"""


SLEEPING_PIPELINE = """
steps:
  - name: nap
    image: busybox
    commands:
      - echo "napping as $$$$"
      - sleep 30
"""

RUN_ID = re.compile(r"^run ([0-9a-f]{32}) (\w+)", re.MULTILINE)
FINISHED = ("success", "failure", "killed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_shera_up(tmp_path_factory.mktemp("up"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def token(server: Server) -> str:
    return server.tenant_token(f"etheria-{uuid.uuid4().hex[:8]}")


def shera(
    home: Path, *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``shera ARGS`` as a subprocess with its config under ``home`` and no SHERA_URL/SHERA_TOKEN."""
    full = {k: v for k, v in os.environ.items() if k not in ("SHERA_URL", "SHERA_TOKEN")}
    full.update({"XDG_CONFIG_HOME": str(home / "config"), "COLUMNS": "250", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "shera", *args],
        check=False,
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
    )


def login(server: Server, home: Path, token: str) -> None:
    done = shera(home, "login", "--url", server.url, "--token", token)
    assert done.returncode == 0, done.stderr


def project_with(server: Server, token: str, root: Path, pipeline: str, name: str) -> dict[str, Any]:
    repo = make_repo(root)
    repo.commit({".shera.yml": pipeline}, "pipeline")
    return server.create_project(token, repo.url, name=name)


def trigger(home: Path, project: str) -> str:
    done = shera(home, "trigger", project, "--branch", "main")
    assert done.returncode == 0, done.stderr
    found = RUN_ID.search(done.stdout)
    assert found and found.group(2) == "queued", done.stdout
    return found.group(1)


def follow_logs(home: Path, run_id: str, go: Path) -> list[str]:
    """The lines of ``shera logs -f RUN``; creates ``go`` once the hello line has arrived, so that the
    goodbye line can only come live. Asserts the command exits 0 within 30 s."""
    env = {k: v for k, v in os.environ.items() if k not in ("SHERA_URL", "SHERA_TOKEN")}
    env["XDG_CONFIG_HOME"] = str(home / "config")
    argv = [sys.executable, "-m", "shera", "logs", "-f", run_id]
    lines: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as process:
        timer = threading.Timer(30, process.kill)
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if "hello from main" in line:
                    go.touch()
        finally:
            timer.cancel()
        assert process.wait() == 0, lines
    return lines


def run_detail(server: Server, token: str, run_id: str) -> dict[str, Any]:
    with server.api(token) as client:
        run: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").raise_for_status().json()
    return run


def test_login_projects_trigger_runs_and_logs(server: Server, token: str, tmp_path: Path) -> None:
    # Given a logged-in user and a project whose step talks, waits for the test, and talks again
    go = tmp_path / "go"
    project = project_with(server, token, tmp_path, streaming_pipeline(go), "talker")
    login(server, tmp_path, token)
    saved = tmp_path / "config" / "shera" / "client.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": server.url, "token": token}

    # `shera projects` lists it (table and JSON)
    table = shera(tmp_path, "projects")
    assert table.returncode == 0, table.stderr
    assert project["id"] in table.stdout and "talker" in table.stdout
    listed = json.loads(shera(tmp_path, "projects", "--format", "json").stdout)
    assert [(p["id"], p["name"]) for p in listed] == [(project["id"], "talker")]

    # `shera trigger talker --branch main` starts a run; `shera logs -f` streams it live until it ends
    # (the step says goodbye only after the test has read its hello through the stream)
    run_id = trigger(tmp_path, "talker")
    streamed = "".join(follow_logs(tmp_path, run_id, go))
    assert "hello from main" in streamed and "goodbye from main" in streamed
    assert run_detail(server, token, run_id)["status"] == "success"  # -f returned only once it ended

    # `shera runs --format json` shows the run, `shera logs` prints its logs
    runs = shera(tmp_path, "runs", "talker", "--format", "json")
    assert runs.returncode == 0, runs.stderr
    assert [(r["id"], r["status"], r["event"]) for r in json.loads(runs.stdout)] == [
        (run_id, "success", "manual")
    ]
    logs = shera(tmp_path, "logs", run_id)
    assert logs.returncode == 0, logs.stderr
    assert "hello from main" in logs.stdout and "goodbye from main" in logs.stdout


def test_cancel_kills_a_running_run(server: Server, token: str, tmp_path: Path) -> None:
    project_with(server, token, tmp_path, SLEEPING_PIPELINE, "sleeper")
    login(server, tmp_path, token)
    run_id = trigger(tmp_path, "sleeper")

    # Given the step is running its `sleep 30`
    deadline = time.monotonic() + 30
    shell_pid = None
    while shell_pid is None and time.monotonic() < deadline:
        steps = {s["name"]: s["status"] for s in run_detail(server, token, run_id)["steps"]}
        if steps.get("nap") == "running":
            found = re.search(r"napping as (\d+)", shera(tmp_path, "logs", run_id).stdout)
            shell_pid = int(found.group(1)) if found else None
        time.sleep(0.1)
    assert shell_pid is not None, run_detail(server, token, run_id)

    # When the user cancels it
    cancelled_at = time.monotonic()
    done = shera(tmp_path, "cancel", run_id)

    # Then the CLI says it is killed, its step ends killed soon after, and the step's process is gone
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"run {run_id} killed"
    run = server.wait_run(token, run_id, timeout=15)
    while run["steps"][-1]["finished_at"] is None and time.monotonic() - cancelled_at < 15:
        time.sleep(0.1)
        run = run_detail(server, token, run_id)
    assert run["status"] == "killed" and run["reason"] == "cancelled", run
    nap = run["steps"][-1]
    assert nap["name"] == "nap" and nap["status"] == "killed" and nap["finished_at"], run
    assert time.monotonic() - cancelled_at < 15
    assert not Path(f"/proc/{shell_pid}").exists()

    # Cancelling again is refused with the server's reason
    again = shera(tmp_path, "cancel", run_id)
    assert again.returncode == 1 and "already ended (killed)" in again.stderr


def test_not_logged_in_exits_2_with_a_hint(tmp_path: Path) -> None:
    done = shera(tmp_path, "projects")
    assert done.returncode == 2
    assert "not logged in" in done.stderr and "shera login" in done.stderr
    assert "Traceback" not in done.stderr


def test_wrong_token_exits_1_with_the_server_message(server: Server, token: str, tmp_path: Path) -> None:
    # `shera login` checks the token and saves nothing when the server refuses it
    refused = shera(tmp_path, "login", "--url", server.url, "--token", "shera_not_a_token")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "shera: 401: unknown or revoked token"
    assert not (tmp_path / "config" / "shera" / "client.json").exists()

    # A wrong token from SHERA_URL/SHERA_TOKEN: the command fails with the server's reason
    env = {"SHERA_URL": server.url, "SHERA_TOKEN": token + "x"}
    done = shera(tmp_path, "projects", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == "shera: 401: unknown or revoked token"
