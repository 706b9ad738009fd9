"""Runs: the database reporter — chunked, capped step logs with bounded memory."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from shera.model.status import Status
from shera.runs.logsink import DbReporter
from shera.runtime.results import StepOutcome
from shera.store import logs as log_store
from shera.store import runs as run_store
from shera.store import steps as step_store
from shera.store.db import Database
from shera.store.runs import NewRun
from tests.runs.support import make_project, sha_of


def reporter_for(db: Database, **kwargs: object) -> tuple[DbReporter, str]:
    run = run_store.insert_run(db, make_project(db), NewRun("push", "refs/heads/main", "main", sha_of(1)))
    ids = step_store.create_steps(db, run.id, [("wf", "step", "queued")])
    return DbReporter(db, run.id, step_ids=ids, **kwargs), run.id  # type: ignore[arg-type]


def test_output_is_stored_in_chunks_within_the_flush_interval(database: Database) -> None:
    reporter, run_id = reporter_for(database, cap_bytes=1 << 20, flush_bytes=10, flush_interval=0.05)
    reporter.on_step_start("wf", "step")
    reporter.on_output("wf", "step", b"0123456789abc")  # over flush_bytes: written at once
    assert b"".join(p.data for p in log_store.read_log(database, run_id)) == b"0123456789abc"
    reporter.on_output("wf", "step", b"tail")  # under it: written by the flusher
    time.sleep(0.3)
    assert [p.data for p in log_store.read_log(database, run_id)] == [b"0123456789abc", b"tail"]
    reporter.on_step_end("wf", StepOutcome("step", Status.SUCCESS, 0, 0.1))
    reporter.close()
    step = step_store.list_steps(database, run_id)[0]
    assert (step.status, step.exit_code, step.log_bytes, step.log_truncated) == ("success", 0, 17, False)


def test_output_beyond_the_cap_is_dropped_and_noted_once(database: Database) -> None:
    reporter, run_id = reporter_for(database, cap_bytes=1000, flush_bytes=64)
    for _ in range(100):
        reporter.on_output("wf", "step", b"x" * 99 + b"\n")
    reporter.on_output("wf", "step", b"more")
    reporter.on_step_end("wf", StepOutcome("step", Status.SUCCESS))
    reporter.close()
    text = b"".join(p.data for p in log_store.read_log(database, run_id))
    assert text == (b"x" * 99 + b"\n") * 10 + b"[log truncated at 1000 bytes]\n"
    step = step_store.list_steps(database, run_id)[0]
    assert step.log_truncated and step.log_bytes == 1000


def test_steps_not_announced_beforehand_are_created(database: Database) -> None:
    reporter, run_id = reporter_for(database, cap_bytes=100)
    reporter.on_step_start("wf", "service")
    reporter.on_output("wf", "service", b"up\n")
    reporter.close()
    steps = {s.name: s.status for s in step_store.list_steps(database, run_id)}
    assert steps == {"step": "queued", "service": "running"}


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_a_gigabyte_of_output_keeps_memory_bounded(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'shera.db'}")
    db.migrate()
    reporter, run_id = reporter_for(db, cap_bytes=8 * 1024 * 1024)
    chunk = b"y" * 65536
    peak, done = [rss_bytes()], threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak.append(rss_bytes())

    before = rss_bytes()
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for _ in range((1 << 30) // len(chunk)):
            reporter.on_output("wf", "step", chunk)
        reporter.on_step_end("wf", StepOutcome("step", Status.SUCCESS))
        reporter.close()
    finally:
        done.set()
        sampler.join()
    assert max(peak) - before < 50 * 1024 * 1024
    step = step_store.list_steps(db, run_id)[0]
    assert step.log_bytes == 8 * 1024 * 1024
    db.dispose()
