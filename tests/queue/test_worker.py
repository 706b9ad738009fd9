"""Queue: ``run_worker`` against real Redis — a push runs to success; repeated messages run it once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from shera.queue.broker import close, make_broker, send_run
from shera.queue.worker import run_worker
from shera.runs.create import create_from_hook
from shera.runs.reaper import reap
from shera.store import runs as run_store
from shera.store import steps as step_store
from shera.store.db import Database
from tests.runs.support import RedisServer, make_project, make_repo, push_hook, settings_for

PIPELINE = "steps:\n  hello:\n    image: alpine\n    commands:\n      - echo hello from the worker\n"


def wait_status(db: Database, run_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        run = run_store.get_run(db, run_id, None)
        assert run is not None
        if run.status in ("success", "failure", "killed") or time.monotonic() > deadline:
            return run.status
        time.sleep(0.05)


def test_the_worker_runs_pushed_runs_once_and_stops_cleanly(
    database: Database, tmp_path: Path, redis_server: RedisServer
) -> None:
    url, sha = make_repo(tmp_path / "repo", {".shera.yml": PIPELINE})
    project = make_project(database, clone_url=url, executor="local", trusted=True)
    settings = settings_for(
        tmp_path, redis_url=redis_server.url, database_url=database.url, worker_threads=2, queue_namespace="w"
    )
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(settings,), kwargs={"stop": stop})
    thread.start()
    broker = make_broker(settings)
    try:
        run_id = create_from_hook(database, project, "github", push_hook(sha)).run_id
        assert run_id is not None
        # The relay sends it once; a redelivered message (at-least-once) arrives twice more.
        send_run(broker, run_id)
        send_run(broker, run_id)
        assert wait_status(database, run_id) == "success"
        time.sleep(0.5)
        run = run_store.get_run(database, run_id, None)
        assert run is not None and run.attempts == 1
        names = [s.name for s in step_store.list_steps(database, run_id)]
        assert names == ["setup", "clone", "hello"]
    finally:
        stop.set()
        thread.join(30)
        close(broker)
    assert not thread.is_alive()


def kill_orphans(root: Path) -> None:
    """SIGKILL the step processes the killed worker left behind (those working under ``root``)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(root)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def test_a_sigkilled_workers_run_is_ended_by_the_reaper(
    database: Database, tmp_path: Path, redis_server: RedisServer
) -> None:
    pipeline = "steps:\n  slow:\n    image: alpine\n    commands:\n      - sleep 4\n"
    url, sha = make_repo(tmp_path / "repo", {".shera.yml": pipeline})
    project = make_project(database, clone_url=url, executor="local", trusted=True)
    env = {
        **os.environ,
        "SHERA_DATA_DIR": str(tmp_path / "data"),
        "SHERA_REDIS_URL": redis_server.url,
        "SHERA_DATABASE_URL": database.url,
        "SHERA_GIT_SCHEMES": "file",
        "SHERA_LEASE_SECONDS": "1.5",
    }
    code = "from shera.queue.worker import run_worker; from shera.settings import load_settings; "
    code += "run_worker(load_settings())"
    worker = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        run_id = create_from_hook(database, project, "github", push_hook(sha)).run_id or ""
        deadline = time.monotonic() + 30
        while not any(
            s.name == "slow" and s.status == "running" for s in step_store.list_steps(database, run_id)
        ):
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.05)
        # When the worker is SIGKILLed mid-step,
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed_at = time.monotonic()
        # the reaper ends the run once the lease expired: nothing is left running.
        while run_id not in reap(database):
            assert time.monotonic() - killed_at < 10
            time.sleep(0.2)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        kill_orphans(tmp_path)
    run = run_store.get_run(database, run_id, None)
    assert run is not None and (run.status, run.reason) == ("failure", "worker_lost")
    assert {s.status for s in step_store.list_steps(database, run_id)} <= {"success", "killed", "skipped"}
