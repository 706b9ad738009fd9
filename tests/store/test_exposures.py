"""Store: exposures are unique by (zone, host, path) across tenants — the same tenant updates its own,
another tenant gets a Conflict; reads are tenant-scoped; balancer state is one row per (zone, kind).

Runs against SQLite always, and against PostgreSQL too when ``SHERA_TEST_DATABASE_URL`` names a server.
"""

from __future__ import annotations

import pytest

from shera.store import exposures, releases
from shera.store.db import Database
from shera.store.errors import Conflict
from shera.store.exposures import NewExposure


@pytest.fixture
def db(db: Database) -> Database:
    """The shared fresh database (``tests.support.database``) with the tenants acme and globex."""
    for tenant in ("acme", "globex"):
        releases.ensure_tenant(db, tenant)
    return db


def test_registering_again_updates_and_another_tenant_cannot_take_the_host(db: Database) -> None:
    first, created = exposures.save_exposure(db, NewExposure("acme", "web", "prod", "public", "web.test"))
    again, created_again = exposures.save_exposure(
        db, NewExposure("acme", "web", "staging", "public", "web.test", port=9090)
    )

    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert (again.environment, again.port) == ("staging", 9090)
    with pytest.raises(Conflict, match="another tenant"):
        exposures.save_exposure(db, NewExposure("globex", "shop", "prod", "public", "web.test"))
    # the same host in the other zone, or under another path, is another exposure
    exposures.save_exposure(db, NewExposure("globex", "shop", "prod", "internal", "web.test"))
    exposures.save_exposure(db, NewExposure("globex", "shop", "prod", "public", "web.test", "/shop"))

    assert [e.app for e in exposures.list_exposures(db, "acme")] == ["web"]
    assert exposures.get_exposure(db, first.id, "globex") is None
    assert len(exposures.list_exposures(db, None)) == 3
    assert not exposures.delete_exposure(db, first.id, "globex")
    assert exposures.delete_exposure(db, first.id, "acme")


def test_balancer_state_is_one_row_per_zone_and_kind(db: Database) -> None:
    for version in ("a" * 16, "b" * 16):
        exposures.save_balancer_state(
            db, "public", "nginx", version=version, config=f"# {version}\n", last_result="ok: applied",
            upstreams={"x": [{"host": "127.0.0.1", "port": 1}]}, reloaded=True,
        )  # fmt: skip
    exposures.save_balancer_state(
        db, "public", "haproxy", version=None, config=None, last_result="failed: x", upstreams={},
        reloaded=False,
    )  # fmt: skip

    states = exposures.balancer_states(db, "public")

    assert [(s.kind, s.version) for s in states] == [("haproxy", None), ("nginx", "b" * 16)]
    assert states[1].upstreams == {"x": [{"host": "127.0.0.1", "port": 1}]}
    assert states[0].last_reload_at is None and states[1].last_reload_at is not None
