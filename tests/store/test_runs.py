"""Store: runs — numbering, reads scoped by tenant, compare-and-set transitions, leases, outbox, logs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from shera.store import logs as log_store
from shera.store import outbox
from shera.store import runs as run_store
from shera.store import steps as step_store
from shera.store.db import Database
from shera.store.models import utcnow
from shera.store.runs import NewRun
from tests.runs.support import make_project, sha_of


def new_run(n: int, branch: str = "main") -> NewRun:
    return NewRun(event="push", ref=f"refs/heads/{branch}", branch=branch, sha=sha_of(n))


def test_runs_are_numbered_per_project_and_listed_newest_first(database: Database) -> None:
    project, other = make_project(database), make_project(database)
    first = run_store.insert_run(database, project, new_run(1))
    second = run_store.insert_run(database, project, new_run(2, branch="dev"))
    elsewhere = run_store.insert_run(database, other, new_run(3))
    assert (first.number, second.number, elsewhere.number) == (1, 2, 1)
    assert first.status == "queued" and first.created_at.tzinfo is not None
    listed = run_store.list_runs(database, project.id, project.tenant_id)
    assert [run.id for run in listed] == [second.id, first.id]
    assert [r.id for r in run_store.list_runs(database, project.id, project.tenant_id, branch="dev")] == [
        second.id
    ]
    assert run_store.list_runs(database, project.id, other.tenant_id) == []
    assert run_store.get_run(database, first.id, other.tenant_id) is None
    assert run_store.get_run(database, first.id, None) == first


def test_concurrent_inserts_get_distinct_numbers(database: Database) -> None:
    project = make_project(database)
    numbers: list[int] = []

    def insert(n: int) -> None:
        numbers.append(run_store.insert_run(database, project, new_run(n)).number)

    threads = [threading.Thread(target=insert, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 21))


def test_only_one_of_two_racing_workers_takes_the_lease(database: Database) -> None:
    run = run_store.insert_run(database, make_project(database), new_run(1))
    until = utcnow() + timedelta(seconds=30)
    won: list[str] = []
    barrier = threading.Barrier(2)

    def take(owner: str) -> None:
        barrier.wait()
        if run_store.take_lease(database, run.id, owner, until) is not None:
            won.append(owner)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    taken = run_store.get_run(database, run.id, None)
    assert taken is not None and taken.status == "running" and taken.lease_owner == won[0]
    assert taken.attempts == 1 and taken.started_at is not None


def test_transitions_are_compare_and_set(database: Database) -> None:
    run = run_store.insert_run(database, make_project(database), new_run(1))
    run_store.take_lease(database, run.id, "w1", utcnow() + timedelta(seconds=30))
    # Given a lease held by w1, another owner cannot end it, and renewals need the owner.
    assert not run_store.transition(database, run.id, "success", run_store.ACTIVE, owner="w2")
    assert run_store.renew_lease(database, run.id, "w1", utcnow() + timedelta(seconds=60))
    assert not run_store.renew_lease(database, run.id, "w2", utcnow() + timedelta(seconds=60))
    # When it is cancelled, the owner's renewal and final transition both fail.
    assert run_store.transition(database, run.id, "killed", run_store.UNFINISHED, values={"reason": "x"})
    assert not run_store.renew_lease(database, run.id, "w1", utcnow() + timedelta(seconds=60))
    assert not run_store.transition(database, run.id, "success", run_store.ACTIVE, owner="w1")
    ended = run_store.get_run(database, run.id, None)
    assert ended is not None
    assert (ended.status, ended.reason, ended.lease_owner) == ("killed", "x", None)
    assert ended.finished_at is not None


def test_tenant_scoped_transition_ignores_other_tenants(database: Database) -> None:
    run = run_store.insert_run(database, make_project(database), new_run(1))
    other = make_project(database)
    assert not run_store.transition(database, run.id, "killed", ["queued"], tenant_id=other.tenant_id)
    assert run_store.transition(database, run.id, "killed", ["queued"], tenant_id=run.tenant_id)


def test_outbox_rows_go_to_exactly_one_claimer(database: Database) -> None:
    project = make_project(database)
    ids = {run_store.insert_run(database, project, new_run(n)).id for n in range(30)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        while items := outbox.claim(database, limit=7):
            with lock:
                claimed.extend(item.run_id for item in items)

    threads = [threading.Thread(target=claim) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mine = [run_id for run_id in claimed if run_id in ids]
    assert sorted(mine) == sorted(ids)
    # A released row is pending again.
    first = run_store.insert_run(database, project, new_run(99))
    item = next(i for i in outbox.claim(database, limit=1000) if i.run_id == first.id)
    outbox.release(database, [item.id], "redis down")
    assert first.id in {i.run_id for i in outbox.claim(database, limit=1000)}


def test_stale_queued_runs_are_found_and_resent_once(database: Database) -> None:
    project = make_project(database)
    run = run_store.insert_run(database, project, new_run(1))
    future = utcnow() + timedelta(seconds=60)
    # Never sent (an unsent outbox row exists): not stale, the relay will send it.
    assert run.id not in run_store.stale_queued(database, future)
    for _ in outbox.claim(database, limit=1000):
        pass
    assert run.id in run_store.stale_queued(database, future)
    assert run_store.resend(database, [run.id]) == 1
    assert run.id not in run_store.stale_queued(database, future)


def test_log_pieces_follow_a_cursor(database: Database) -> None:
    run = run_store.insert_run(database, make_project(database), new_run(1))
    ids = step_store.create_steps(database, run.id, [("build", "a", "queued"), ("build", "b", "queued")])
    a, b = ids[("build", "a")], ids[("build", "b")]
    log_store.append_chunk(database, a, 0, b"one\n")
    log_store.append_chunk(database, b, 0, b"two\n")
    pieces = log_store.read_log(database, run.id)
    assert [(p.step, p.workflow, p.data) for p in pieces] == [
        ("a", "build", b"one\n"),
        ("b", "build", b"two\n"),
    ]
    log_store.append_chunk(database, a, 1, b"three\n")
    newer = log_store.read_log(database, run.id, after=pieces[-1].cursor)
    assert [p.data for p in newer] == [b"three\n"]
    assert log_store.read_log(database, run.id, after=newer[-1].cursor) == []
    steps = step_store.list_steps(database, run.id)
    assert [(s.workflow, s.name, s.status) for s in steps] == [
        ("build", "a", "queued"),
        ("build", "b", "queued"),
    ]


def test_open_steps_of_an_ended_run_are_closed(database: Database) -> None:
    run = run_store.insert_run(database, make_project(database), new_run(1))
    ids = step_store.create_steps(database, run.id, [("w", "a", "queued"), ("w", "b", "queued")])
    step_store.start_step(database, ids[("w", "a")], utcnow())
    step_store.end_open_steps(database, run.id, utcnow())
    assert [(s.status, s.exit_code) for s in step_store.list_steps(database, run.id)] == [
        ("killed", 137),
        ("skipped", None),
    ]


@pytest.mark.parametrize("status", ["queued", "running"])
def test_expired_leases_lists_only_active_runs(database: Database, status: str) -> None:
    run = run_store.insert_run(database, make_project(database), new_run(1))
    if status == "running":
        run_store.take_lease(database, run.id, "w", utcnow() - timedelta(seconds=1))
    expired = {r.id for r in run_store.expired_leases(database, utcnow(), limit=10_000)}
    assert (run.id in expired) == (status == "running")
