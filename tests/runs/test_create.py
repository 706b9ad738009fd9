"""Runs: create — durable, deduplicated runs from webhooks (also concurrent ones), supersede, manual runs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from shera.errors import ConfigError
from shera.forges.base import Hook
from shera.model.event import EventKind
from shera.runs.create import CreateOutcome, create_from_hook, create_manual
from shera.runs.eventdata import event_from_data
from shera.store import outbox
from shera.store import runs as run_store
from shera.store.db import Database
from shera.store.models import utcnow
from tests.runs.support import make_project, push_hook, sha_of


def concurrently(count: int, job: object) -> list[CreateOutcome]:
    results: list[CreateOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def work(index: int) -> None:
        barrier.wait()
        try:
            results.append(job(index))  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_fifty_concurrent_copies_of_one_delivery_make_one_run(database: Database) -> None:
    project = make_project(database)
    hook = push_hook(sha_of(1), delivery="delivery-1")
    outcomes = concurrently(50, lambda _i: create_from_hook(database, project, "github", hook))
    created = [o for o in outcomes if o.status == "created"]
    assert len(created) == 1
    assert {o.status for o in outcomes} == {"created", "duplicate"}
    assert {o.run_id for o in outcomes} == {created[0].run_id}
    runs = run_store.list_runs(database, project.id, project.tenant_id)
    assert [r.id for r in runs] == [created[0].run_id]
    assert [i.run_id for i in outbox.claim(database, limit=10_000) if i.run_id == created[0].run_id] == [
        created[0].run_id
    ]


def test_same_push_with_another_delivery_id_is_a_duplicate(database: Database) -> None:
    project = make_project(database)
    first = create_from_hook(database, project, "github", push_hook(sha_of(1), delivery="a"))
    again = create_from_hook(database, project, "github", push_hook(sha_of(1), delivery="b"))
    assert first.status == "created"
    assert again == CreateOutcome("duplicate", first.run_id)
    concurrent = concurrently(
        20, lambda i: create_from_hook(database, project, "github", push_hook(sha_of(2), delivery=f"d{i}"))
    )
    assert sorted(o.status for o in concurrent) == ["created"] + ["duplicate"] * 19
    assert len(run_store.list_runs(database, project.id, project.tenant_id)) == 2


def test_the_same_delivery_id_for_another_project_is_not_a_duplicate(database: Database) -> None:
    one, two = make_project(database), make_project(database)
    hook = push_hook(sha_of(1), delivery="same-body-hash")
    assert create_from_hook(database, one, "gitlab", hook).status == "created"
    assert create_from_hook(database, two, "gitlab", hook).status == "created"


@pytest.mark.parametrize(
    "hook",
    [
        Hook("ping", "p1"),
        Hook("ignored", "i1", reason="branch deleted"),
        push_hook("0" * 40, delivery="zero"),
    ],
    ids=["ping", "ignored", "all-zero-sha"],
)
def test_pings_ignored_events_and_zero_shas_store_nothing(database: Database, hook: Hook) -> None:
    project = make_project(database)
    outcome = create_from_hook(database, project, "github", hook)
    assert outcome.status == "ignored" and outcome.run_id is None and outcome.reason
    assert run_store.list_runs(database, project.id, project.tenant_id) == []


def test_the_run_keeps_the_event(database: Database) -> None:
    project = make_project(database)
    hook = push_hook(sha_of(7), branch="dev", changed_files=("a.py",), from_fork=False)
    outcome = create_from_hook(database, project, "github", hook)
    assert outcome.run_id is not None
    run = run_store.get_run(database, outcome.run_id, project.tenant_id)
    assert run is not None
    assert (run.event, run.ref, run.branch, run.sha) == ("push", "refs/heads/dev", "dev", sha_of(7))
    assert event_from_data(run.event_data) == hook.event


def test_a_newer_push_supersedes_older_unfinished_runs_of_its_branch(database: Database) -> None:
    project = make_project(database)
    old = create_from_hook(database, project, "github", push_hook(sha_of(1)))
    running = create_from_hook(database, project, "github", push_hook(sha_of(2), delivery="r"))
    other_branch = create_from_hook(database, project, "github", push_hook(sha_of(3), branch="dev"))
    assert old.run_id and running.run_id and other_branch.run_id
    # `running` is taken by a worker before the next push.
    assert run_store.take_lease(database, running.run_id, "w", utcnow() + timedelta(seconds=30))
    newest = create_from_hook(database, project, "github", push_hook(sha_of(4)))

    def state(run_id: str | None) -> tuple[str, str | None]:
        run = run_store.get_run(database, run_id or "", None)
        assert run is not None
        return run.status, run.reason

    assert state(old.run_id) == ("killed", "superseded")
    assert state(running.run_id) == ("killed", "superseded")
    assert state(other_branch.run_id) == ("queued", None)
    assert state(newest.run_id) == ("queued", None)


def test_supersede_can_be_turned_off(database: Database) -> None:
    project = make_project(database, cancel_superseded=False)
    old = create_from_hook(database, project, "github", push_hook(sha_of(1)))
    create_from_hook(database, project, "github", push_hook(sha_of(2)))
    run = run_store.get_run(database, old.run_id or "", None)
    assert run is not None and run.status == "queued"


def test_pull_requests_do_not_supersede_pushes(database: Database) -> None:
    project = make_project(database)
    push = create_from_hook(database, project, "github", push_hook(sha_of(1)))
    pr = push_hook(sha_of(2), kind=EventKind.PULL_REQUEST, pull_request=3, ref="refs/pull/3/head")
    assert create_from_hook(database, project, "github", pr).status == "created"
    run = run_store.get_run(database, push.run_id or "", None)
    assert run is not None and run.status == "queued"


def test_manual_runs(database: Database) -> None:
    project = make_project(database)
    run = create_manual(
        database, project, sha=sha_of(5), branch=None, params={"DEPLOY": "yes"}, actor="adora"
    )
    assert (run.event, run.branch, run.status, run.number, run.params) == (
        "manual",
        "main",
        "queued",
        1,
        {"DEPLOY": "yes"},
    )
    event = event_from_data(run.event_data)
    assert event.kind is EventKind.MANUAL and event.params == {"DEPLOY": "yes"} and event.repo == "adora/app"
    # Manual runs are never deduplicated.
    again = create_manual(database, project, sha=sha_of(5), branch="main", params={}, actor="adora")
    assert again.number == 2
    with pytest.raises(ConfigError):
        create_manual(database, project, sha="main; rm -rf /", branch=None, params={}, actor="adora")


def test_a_tag_run_has_no_branch(database: Database) -> None:
    project = make_project(database)
    hook = push_hook(sha_of(1), kind=EventKind.TAG, tag="v1.0", ref="refs/tags/v1.0")
    outcome = create_from_hook(database, project, "github", hook)
    run = run_store.get_run(database, outcome.run_id or "", None)
    assert run is not None and (run.branch, run.ref, run.event) == (None, "refs/tags/v1.0", "tag")
    assert event_from_data(run.event_data) == hook.event
