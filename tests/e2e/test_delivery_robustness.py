"""End to end: webhook delivery under stress — concurrent redeliveries, a Redis outage, and shutdown.

All against a real ``shera up`` (API in-process, a ``shera worker`` child, Redis) over real HTTP:
- 50 concurrent copies of one signed push make exactly one run;
- with Redis stopped, 100 pushes are all accepted (2xx), and once Redis is back every one of them runs
  exactly once (the outbox relay resends; the worker reconnects by itself);
- SIGTERM to ``shera up`` stops the worker and Redis children it started, and it exits 0.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import (
    RedisServer,
    Server,
    git,
    github_push,
    make_repo,
    send_github_push,
)

ECHO_PIPELINE = """
steps:
  - name: greet
    image: busybox
    commands:
      - echo "hello from $CI_COMMIT_BRANCH"
"""


def ledger_pipeline(ledger: Path) -> str:
    """A pipeline whose one step appends its branch to ``ledger``: one line per execution of a run."""
    return f"""
steps:
  - name: record
    image: busybox
    commands:
      - echo "ran $CI_COMMIT_BRANCH"
      - echo "$CI_COMMIT_BRANCH" >> {ledger}
"""


def list_runs(server: Server, token: str, project_id: str, **query: str) -> list[dict[str, Any]]:
    with server.api(token) as client:
        reply = client.get(f"/api/v1/projects/{project_id}/runs", params={"limit": "500", **query})
        data: list[dict[str, Any]] = reply.raise_for_status().json()["data"]
    return data


def wait_all_finished(
    server: Server, token: str, project_id: str, expected: int, timeout: float
) -> list[dict[str, Any]]:
    """The project's runs once ``expected`` of them exist and none is queued or running (or at timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = list_runs(server, token, project_id)
        done = [r for r in runs if r["status"] in ("success", "failure", "killed", "declined")]
        if (len(runs) >= expected and len(done) == len(runs)) or time.monotonic() > deadline:
            return runs
        time.sleep(0.25)


@pytest.mark.parametrize("deliveries", ["redelivered", "same-push"])
def test_50_concurrent_copies_of_one_push_make_one_run(
    shera_up: Server, tmp_path: Path, deliveries: str
) -> None:
    # Given a project and one signed push
    repo = make_repo(tmp_path)
    sha = repo.commit({".shera.yml": ECHO_PIPELINE}, "pipeline")
    token = shera_up.tenant_token("etheria")
    project = shera_up.create_project(token, repo.url)
    payload = github_push(repo.url, sha, "0" * 40, "pipeline")
    # "redelivered": the forge sends the same delivery 50 times; "same-push": 50 delivery ids for one push
    ids = ["d-1"] * 50 if deliveries == "redelivered" else [f"d-{i}" for i in range(50)]

    # When 50 threads send it at the same moment
    gate = threading.Barrier(50)

    def deliver(delivery: str) -> httpx.Response:
        gate.wait()
        return send_github_push(project["hook_url"], project["webhook_secret"], payload, delivery)

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(deliver, ids))

    # Then one is queued, 49 are duplicates of that run, and exactly one run exists and succeeds
    codes = Counter((a.status_code, a.json()["status"]) for a in answers)
    assert codes == {(202, "queued"): 1, (200, "duplicate"): 49}, [a.text for a in answers]
    run_ids = {a.json()["run_id"] for a in answers}
    assert len(run_ids) == 1
    run_id = run_ids.pop()
    assert shera_up.wait_run(token, run_id)["status"] == "success"
    assert [r["id"] for r in list_runs(shera_up, token, project["id"])] == [run_id]


def test_redis_outage_loses_no_webhook_and_runs_each_once(
    shera_up_own_redis: tuple[Server, RedisServer], tmp_path: Path
) -> None:
    server, redis = shera_up_own_redis
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    repo = make_repo(tmp_path)
    sha = repo.commit({".shera.yml": ledger_pipeline(ledger)}, "pipeline")
    branches = [f"feature-{i:03d}" for i in range(100)]
    git(repo.work, "push", "-q", "origin", *(f"HEAD:refs/heads/{b}" for b in branches))
    token = server.tenant_token("etheria")
    project = server.create_project(token, repo.url)

    # Given a working system: a push to main runs (the worker has consumed from Redis before the outage)
    warm = send_github_push(
        project["hook_url"], project["webhook_secret"], github_push(repo.url, sha, "0" * 40, "w"), "warm"
    )
    assert warm.status_code == 202, warm.text
    assert server.wait_run(token, warm.json()["run_id"], timeout=30)["status"] == "success"

    # When Redis stops and 100 pushes to 100 branches arrive
    redis.stop()

    def deliver(branch: str) -> httpx.Response:
        payload = github_push(repo.url, sha, "0" * 40, "p", branch=branch)
        return send_github_push(project["hook_url"], project["webhook_secret"], payload, str(uuid.uuid4()))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(deliver, branches))

    # Then every one is accepted and waits, queued, in the database
    assert [a.status_code for a in answers] == [202] * 100, [a.text for a in answers if a.status_code != 202]
    assert len({a.json()["run_id"] for a in answers}) == 100
    time.sleep(1.5)  # the relay and the worker's consumer meet the outage
    queued = list_runs(server, token, project["id"], status="queued")
    assert len(queued) == 100

    # When Redis comes back (empty: it keeps nothing on disk), on the same port
    redis.start()
    started = time.monotonic()
    runs = wait_all_finished(server, token, project["id"], expected=101, timeout=60)
    elapsed = time.monotonic() - started

    # Then all 100 runs ran, each exactly once, and succeeded
    pushed = [r for r in runs if r["ref"] != "refs/heads/main"]
    assert Counter(r["status"] for r in pushed) == {"success": 100}, f"after {elapsed:.1f} s"
    assert sorted(r["ref"] for r in pushed) == [f"refs/heads/{b}" for b in branches]
    executions = Counter(ledger.read_text().split())
    assert executions == Counter({b: 1 for b in [*branches, "main"]})
    print(f"100 runs finished {elapsed:.1f} s after Redis returned")


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (the parent pid field of every /proc/N/stat)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def is_gone(pid: int) -> bool:
    """True when no process ``pid`` exists any more (a zombie left to init counts as gone: it is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_sigterm_stops_shera_up_and_every_child(shera_up: Server) -> None:
    # Given shera up with its worker and private Redis children
    pid = shera_up.process.pid
    children = {child: command_line(child) for child in child_pids(pid)}
    worker = [c for c, cmd in children.items() if " -m shera worker" in cmd]
    redis = [c for c, cmd in children.items() if cmd.startswith("redis-server")]
    assert len(worker) == 1 and len(redis) == 1, children

    # When it gets SIGTERM
    os.kill(pid, signal.SIGTERM)
    code = shera_up.process.wait(timeout=30)

    # Then it exits 0 and its children are gone
    assert code == 0, (shera_up.data_dir.parent / "shera-up.log").read_text()
    assert all(is_gone(child) for child in worker + redis), {c: command_line(c) for c in children}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{shera_up.url}/healthz", timeout=2)
