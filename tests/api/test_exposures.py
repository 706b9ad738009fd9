"""API: exposures are tenant-scoped with what serves them (upstreams, config version, last reload result);
the rendered balancer config of a zone is for platform admins only."""

from __future__ import annotations

from shera.store import exposures
from shera.store.exposures import NewExposure
from tests.api.conftest import Api, Tenant


def _exposed(api: Api, acme: Tenant) -> str:
    record, _created = exposures.save_exposure(
        api.db, NewExposure(acme.id, "web", "production", "public", "web.acme.localhost", "/", 8080)
    )
    exposures.save_balancer_state(
        api.db,
        "public",
        "nginx",
        version="0123456789abcdef",
        config="# shera-config 0123456789abcdef zone public kind nginx listen 127.0.0.1:8088\n",
        last_result="ok: applied",
        upstreams={record.id: [{"host": "127.0.0.1", "port": 41001}]},
        reloaded=True,
    )
    return record.id


def test_a_tenant_lists_its_exposures_with_what_serves_them(api: Api, acme: Tenant, globex: Tenant) -> None:
    exposure_id = _exposed(api, acme)

    mine = api.client.get("/api/v1/exposures", headers=acme.auth("viewer"))
    theirs = api.client.get("/api/v1/exposures", headers=globex.auth("admin"))

    assert mine.status_code == 200, mine.text
    assert mine.json()["count"] == 1
    row = mine.json()["data"][0]
    assert row["id"] == exposure_id
    assert (row["app"], row["zone"], row["host"], row["path"]) == ("web", "public", "web.acme.localhost", "/")
    assert row["upstreams"] == ["127.0.0.1:41001"]
    assert (row["version"], row["last_result"]) == ("0123456789abcdef", "ok: applied")
    assert row["url"].startswith("http://web.acme.localhost")
    assert theirs.json() == {"data": [], "count": 0}


def test_the_zone_config_is_for_platform_admins(api: Api, acme: Tenant) -> None:
    _exposed(api, acme)

    tenant_admin = api.client.get("/api/v1/balancer/public/config", headers=acme.auth("admin"))
    platform = api.client.get("/api/v1/balancer/public/config", headers=api.root)
    nothing = api.client.get("/api/v1/balancer/internal/config", headers=api.root)

    assert tenant_admin.status_code == 403
    assert platform.status_code == 200, platform.text
    [config] = platform.json()
    assert (config["zone"], config["kind"], config["version"]) == ("public", "nginx", "0123456789abcdef")
    assert config["config"].startswith("# shera-config 0123456789abcdef")
    assert config["last_reload_at"].endswith("Z")
    assert nothing.status_code == 404


def test_listing_needs_a_token(api: Api) -> None:
    assert api.client.get("/api/v1/exposures").status_code == 401
