"""Store: releases — revisions per (tenant, app, environment), status changes, quarantine, what runs where,
tenant scoping, and history queries over 1,000 releases.

Runs against SQLite always, and against PostgreSQL too when ``SHERA_TEST_DATABASE_URL`` names a server.
"""

from __future__ import annotations

import threading

import pytest

from shera.store import releases, tenants
from shera.store.db import Database
from shera.store.errors import Conflict, NotFound
from shera.store.releases import NewRelease


@pytest.fixture
def tenant(db: Database) -> str:
    return tenants.create_tenant(db, "acme").id


def new(tenant: str, app: str = "web", env: str = "production", sha: str = "a" * 40) -> NewRelease:
    return NewRelease(tenant_id=tenant, app=app, environment=env, target="podman", image="r/web:1", sha=sha)


def test_revisions_count_up_per_app_and_environment(db: Database, tenant: str) -> None:
    first = releases.create_release(db, new(tenant))
    second = releases.create_release(db, new(tenant))
    other_env = releases.create_release(db, new(tenant, env="staging"))

    assert (first.revision, second.revision, other_env.revision) == (1, 2, 1)
    assert first.status == "deploying" and first.finished_at is None


def test_concurrent_creates_never_share_a_revision(db: Database, tenant: str) -> None:
    made: list[int] = []

    def create() -> None:
        made.append(releases.create_release(db, new(tenant)).revision)

    threads = [threading.Thread(target=create) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(made) == list(range(1, 11))


def test_going_live_supersedes_the_previous_live_release(db: Database, tenant: str) -> None:
    one = releases.create_release(db, new(tenant))
    releases.update_release(db, one.id, status="live", expect=["deploying"])
    two = releases.create_release(db, new(tenant))
    releases.supersede_live(db, tenant, "web", "production", keep=two.revision)
    live = releases.update_release(db, two.id, status="live", endpoints=[{"host": "127.0.0.1", "port": 8000}])

    assert releases.live_release(db, tenant, "web", "production") == live
    assert releases.get_release(db, tenant, "web", "production", 1).status == "superseded"  # type: ignore[union-attr]
    assert live.finished_at is not None and live.endpoints == [{"host": "127.0.0.1", "port": 8000}]
    with pytest.raises(Conflict):
        releases.update_release(db, one.id, status="live", expect=["deploying"])


def test_failed_and_rolled_back_commits_are_quarantined(db: Database, tenant: str) -> None:
    bad = releases.create_release(db, new(tenant, sha="b" * 40))
    releases.update_release(db, bad.id, status="rolled_back", reason="health check failed")
    worse = releases.create_release(db, new(tenant, sha="d" * 40))
    releases.update_release(db, worse.id, status="failed")
    releases.create_release(db, new(tenant, sha="c" * 40))

    assert releases.is_quarantined(db, tenant, "web", "production", "b" * 40)
    assert releases.is_quarantined(db, tenant, "web", "production", "d" * 40)
    assert not releases.is_quarantined(db, tenant, "web", "production", "c" * 40)
    assert not releases.is_quarantined(db, tenant, "web", "staging", "b" * 40)


def test_what_runs_where_prefers_the_live_release_and_hides_deleted_apps(db: Database, tenant: str) -> None:
    live = releases.create_release(db, new(tenant))
    releases.update_release(db, live.id, status="live")
    failed = releases.create_release(db, new(tenant))
    releases.update_release(db, failed.id, status="failed")
    only_failed = releases.create_release(db, new(tenant, app="api"))
    releases.update_release(db, only_failed.id, status="failed")
    gone = releases.create_release(db, new(tenant, app="old"))
    releases.update_release(db, gone.id, status="live")
    releases.mark_deleted(db, tenant, "old", "production")

    current = {(r.app, r.environment): (r.revision, r.status) for r in releases.current_releases(db, tenant)}

    assert current == {("web", "production"): (1, "live"), ("api", "production"): (1, "failed")}
    with pytest.raises(NotFound):
        releases.mark_deleted(db, tenant, "nothing", "production")


def test_another_tenant_sees_nothing(db: Database, tenant: str) -> None:
    other = tenants.create_tenant(db, "globex").id
    made = releases.create_release(db, new(tenant))

    assert releases.get_release(db, other, "web", "production", made.revision) is None
    assert releases.list_releases(db, other, "web", "production") == []
    assert releases.current_releases(db, other) == []
    assert releases.live_release(db, other, "web", "production") is None


def test_previous_good_skips_failed_releases(db: Database, tenant: str) -> None:
    for status in ("superseded", "failed", "rolled_back", "live"):
        made = releases.create_release(db, new(tenant))
        releases.update_release(db, made.id, status=status)

    previous = releases.previous_good(db, tenant, "web", "production", before=4)

    assert previous is not None and previous.revision == 1


def test_ensure_tenant_is_idempotent(db: Database) -> None:
    releases.ensure_tenant(db, "local")
    releases.ensure_tenant(db, "local")

    assert tenants.get_tenant(db, "local") is not None
    assert releases.create_release(db, new("local")).revision == 1


def test_history_of_1000_releases_is_newest_first(db: Database, tenant: str) -> None:
    # Given 1,000 releases of one app beside another app's (the 50 ms target is measured by `make bench`)
    for app, count in (("web", 1000), ("api", 200)):
        for _ in range(count):
            releases.create_release(db, new(tenant, app=app))

    # When the history and the live lookups run
    page = releases.list_releases(db, tenant, "web", "production", limit=100)

    # Then the page is that app's newest releases, newest first
    assert [r.revision for r in page[:3]] == [1000, 999, 998]
    assert len(page) == 100 and {r.app for r in page} == {"web"}
    assert releases.live_release(db, tenant, "web", "production") is None
    assert not releases.is_quarantined(db, tenant, "web", "production", "f" * 40)
