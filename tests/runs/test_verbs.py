"""Runs: cancel, restart, approve/decline, the reaper and the lease thread."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from shera.model.records import RunRecord
from shera.runs.approve import approve, decline
from shera.runs.cancel import cancel
from shera.runs.lease import Lease
from shera.runs.reaper import reap
from shera.runs.restart import restart
from shera.store import outbox
from shera.store import runs as run_store
from shera.store import steps as step_store
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound
from shera.store.models import utcnow
from shera.store.runs import NewRun
from tests.runs.support import make_project, sha_of


def queued(db: Database) -> RunRecord:
    project = make_project(db)
    return run_store.insert_run(db, project, NewRun("push", "refs/heads/main", "main", sha_of(1)))


def current(db: Database, run_id: str) -> RunRecord:
    run = run_store.get_run(db, run_id, None)
    assert run is not None
    return run


def test_cancel_a_queued_run_and_not_a_finished_one(database: Database) -> None:
    run = queued(database)
    with pytest.raises(NotFound):
        cancel(database, run.id, make_project(database).tenant_id)
    killed = cancel(database, run.id, run.tenant_id)
    assert (killed.status, killed.reason) == ("killed", "cancelled")
    with pytest.raises(Conflict):
        cancel(database, run.id, run.tenant_id)
    # A message that arrives afterwards finds nothing to take.
    assert run_store.take_lease(database, run.id, "w", utcnow() + timedelta(seconds=30)) is None


def test_restart_makes_a_new_run_of_the_same_commit(database: Database) -> None:
    run = queued(database)
    with pytest.raises(Conflict):
        restart(database, run.id, run.tenant_id, actor="adora")
    cancel(database, run.id, run.tenant_id)
    again = restart(database, run.id, run.tenant_id, actor="adora")
    assert (again.status, again.number, again.sha, again.event) == ("queued", 2, run.sha, "push")
    assert again.id in {item.run_id for item in outbox.claim(database, limit=10_000)}
    with pytest.raises(NotFound):
        restart(database, run.id, make_project(database).tenant_id, actor="x")


def test_approve_and_decline_need_a_waiting_run(database: Database) -> None:
    run = queued(database)
    with pytest.raises(Conflict):
        approve(database, run.id, run.tenant_id, actor="boss")
    run_store.take_lease(database, run.id, "w", utcnow() + timedelta(seconds=30))
    assert run_store.transition(database, run.id, "pending_approval", run_store.ACTIVE, owner="w")
    with pytest.raises(NotFound):
        approve(database, run.id, make_project(database).tenant_id, actor="boss")
    approved = approve(database, run.id, run.tenant_id, actor="boss")
    assert (approved.status, approved.approval) == ("running", "approved")
    assert run_store.transition(database, run.id, "pending_approval", run_store.ACTIVE, owner="w")
    declined = decline(database, run.id, run.tenant_id, actor="boss")
    assert (declined.status, declined.reason, declined.approval) == ("failure", "declined", "declined")


def test_the_reaper_fails_runs_whose_lease_expired(database: Database) -> None:
    lost, alive = queued(database), queued(database)
    run_store.take_lease(database, lost.id, "dead", utcnow() - timedelta(seconds=1))
    run_store.take_lease(database, alive.id, "live", utcnow() + timedelta(seconds=30))
    ids = step_store.create_steps(database, lost.id, [("w", "a", "queued"), ("w", "b", "queued")])
    step_store.start_step(database, ids[("w", "a")], utcnow())
    assert lost.id in reap(database)
    ended = current(database, lost.id)
    assert (ended.status, ended.reason, ended.lease_owner) == ("failure", "worker_lost", None)
    assert [s.status for s in step_store.list_steps(database, lost.id)] == ["killed", "skipped"]
    assert current(database, alive.id).status == "running"
    assert lost.id not in reap(database)


def test_the_reaper_can_requeue_lost_runs_a_few_times(database: Database) -> None:
    run = queued(database)
    for _ in outbox.claim(database, limit=10_000):
        pass
    for attempt in (1, 2, 3):
        assert run_store.take_lease(database, run.id, f"w{attempt}", utcnow() - timedelta(seconds=1))
        assert run.id in reap(database, requeue=True, max_attempts=3)
        after = current(database, run.id)
        if attempt < 3:
            assert (after.status, after.reason, after.attempts) == ("queued", "worker_lost", attempt)
            assert [i.run_id for i in outbox.claim(database, limit=10_000) if i.run_id == run.id] == [run.id]
        else:
            assert (after.status, after.reason) == ("failure", "worker_lost")


def test_a_requeued_run_starts_with_no_steps_of_its_earlier_attempt(database: Database) -> None:
    run = queued(database)
    run_store.take_lease(database, run.id, "w1", utcnow() - timedelta(seconds=1))
    step_store.create_steps(database, run.id, [("w", "a", "running")])
    reap(database, requeue=True)
    assert run_store.take_lease(database, run.id, "w2", utcnow() + timedelta(seconds=30))
    assert step_store.list_steps(database, run.id) == []


def test_the_lease_is_renewed_and_cancels_the_run_when_it_is_taken_away(database: Database) -> None:
    run = queued(database)
    cancel_event = threading.Event()
    lease = Lease(database, run.id, "w1", seconds=0.3, cancel=cancel_event, check_interval=0.05)
    assert lease.take() is not None
    assert lease.take() is None  # a second message for the same run is dropped
    lease.start()
    try:
        first_until = current(database, run.id).lease_until
        time.sleep(0.5)
        renewed = current(database, run.id)
        assert renewed.lease_until is not None and first_until is not None
        assert renewed.lease_until > first_until
        assert not cancel_event.is_set()
        cancel(database, run.id, run.tenant_id)
        assert cancel_event.wait(2)
        assert lease.lost.is_set()
    finally:
        lease.stop()
