"""The rendered nginx config served by a real nginx: health, zones, no injection (what every balancer serves
is in ``test_balancers``)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from shera.contrib.exposure.errors import InvalidExposure
from shera.contrib.exposure.model import Site, Upstream, ZoneConfig
from shera.contrib.exposure.nginx import NginxBalancer
from shera.contrib.exposure.render import STATUS_PATH, render_nginx
from tests.support.balancers import Upstreams, apply_sites, fetch, start_balancer
from tests.support.registry import free_port

HOSTILE = "a;}location/x{return 200 pwned;}#"


def test_a_dead_upstream_is_passed_over(nginx_balancer: NginxBalancer, upstream_servers: Upstreams) -> None:
    (alive,) = upstream_servers("alive")
    dead = Upstream("127.0.0.1", free_port())  # nothing listens there
    apply_sites(nginx_balancer, Site("acme", "web", "prod", "web.acme.test", "/", (alive.upstream, dead)))
    replies = [fetch(nginx_balancer.listen, "web.acme.test") for _ in range(30)]
    assert {(r.status, r.body) for r in replies} == {(200, "alive\n")}


def test_a_hostile_name_never_produces_a_directive(
    nginx_balancer: NginxBalancer, upstream_servers: Upstreams
) -> None:
    (web,) = upstream_servers("web")
    honest = Site("acme", "web", "prod", "web.acme.test", "/", (web.upstream,))
    # Every way in is refused: as an app, an environment (branch), a tenant, a host, a path
    for field in ("app", "environment", "tenant", "host", "path"):
        with pytest.raises(InvalidExposure):
            dataclasses.replace(honest, **dict[str, Any]({field: HOSTILE}))
    # Even forced past the model, the template filter refuses to write it
    forced = Site("acme", "web", "prod", "evil.acme.test", "/", (web.upstream,))
    object.__setattr__(forced, "environment", HOSTILE)
    with pytest.raises(InvalidExposure, match="refusing to write"):
        render_nginx(ZoneConfig("public", nginx_balancer.listen, (honest, forced)))
    # What nginx actually runs has exactly the expected locations and returns
    apply_sites(nginx_balancer, honest)
    dump = nginx_balancer.dump()
    assert "pwned" not in dump
    assert sorted(re.findall(r"^\s*location\s+([^{]*?)\s*\{", dump, re.M)) == ["/", "/", f"= {STATUS_PATH}"]
    assert len(re.findall(r"^\s*return\s", dump, re.M)) == 2  # the status answer and the unknown-host 404
    assert fetch(nginx_balancer.listen, "web.acme.test", "/x").body == "web\n"


def test_public_and_internal_zones_are_separate_listeners(
    nginx_balancer: NginxBalancer, upstream_servers: Upstreams, tmp_path: Path
) -> None:
    internal = start_balancer("nginx", tmp_path / "internal", zone="internal")
    try:
        public_app, internal_app = upstream_servers("public-app", "internal-app")
        apply_sites(nginx_balancer, Site("acme", "web", "prod", "web.acme.test", "/", (public_app.upstream,)))
        site = Site(
            "acme", "db-admin", "prod", "admin.acme.test", "/", (internal_app.upstream,), zone="internal"
        )
        assert isinstance(internal, NginxBalancer)
        apply_sites(internal, site)
        assert fetch(internal.listen, "admin.acme.test").body == "internal-app\n"
        assert fetch(nginx_balancer.listen, "admin.acme.test").status == 404
        assert fetch(internal.listen, "web.acme.test").status == 404
        assert internal.live.parent != nginx_balancer.live.parent
    finally:
        internal.stop()
