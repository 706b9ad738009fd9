"""The rendered nginx config served by a real nginx: virtual hosts, paths, 503s, TLS, health, no injection."""

from __future__ import annotations

import dataclasses
import re
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shera.contrib.exposure.errors import InvalidExposure
from shera.contrib.exposure.model import Site, Tls, Upstream, ZoneConfig
from shera.contrib.exposure.nginx import NginxBalancer
from shera.contrib.exposure.render import STATUS_HOST, STATUS_PATH, render_nginx
from tests.support.balancers import NamedUpstream, fetch, free_port, self_signed, start_balancer

HOSTILE = "a;}location/x{return 200 pwned;}#"
Upstreams = Callable[..., list[NamedUpstream]]


def _apply(balancer: NginxBalancer, *sites: Site, tls_listen: str | None = None) -> str:
    result = balancer.apply(render_nginx(ZoneConfig(balancer.zone, balancer.listen, sites, tls_listen)))
    assert result.ok, result.message
    return result.version or ""


def test_requests_reach_the_site_of_their_host_and_path(
    nginx_balancer: NginxBalancer, upstream_servers: Upstreams
) -> None:
    web, api, shop = upstream_servers("web", "api", "shop")
    version = _apply(
        nginx_balancer,
        Site("acme", "web", "prod", "web.acme.test", "/", (web.upstream,)),
        Site("acme", "api", "prod", "web.acme.test", "/api", (api.upstream,)),
        Site("acme", "shop", "prod", "shop.acme.test", "/", (shop.upstream,)),
        Site("acme", "idle", "prod", "idle.acme.test", "/", ()),
    )
    listen = nginx_balancer.listen
    assert fetch(listen, "web.acme.test", "/page").body == "web\n"
    assert fetch(listen, "web.acme.test", "/api/v1").body == "api\n"
    assert fetch(listen, "shop.acme.test:80", "/").body == "shop\n"  # the port in Host does not matter
    idle = fetch(listen, "idle.acme.test")
    assert (idle.status, idle.body) == (503, "idle (prod, tenant acme) has no running instance")
    unknown = fetch(listen, "nobody.acme.test")
    assert unknown.status == 404 and unknown.version == version
    assert fetch(listen, STATUS_HOST, STATUS_PATH).body.strip() == version
    assert {fetch(listen, h).version for h in ("web.acme.test", "shop.acme.test", "idle.acme.test")} == {
        version
    }


def test_a_dead_upstream_is_passed_over(nginx_balancer: NginxBalancer, upstream_servers: Upstreams) -> None:
    (alive,) = upstream_servers("alive")
    dead = Upstream("127.0.0.1", free_port())  # nothing listens there
    _apply(nginx_balancer, Site("acme", "web", "prod", "web.acme.test", "/", (alive.upstream, dead)))
    replies = [fetch(nginx_balancer.listen, "web.acme.test") for _ in range(30)]
    assert {(r.status, r.body) for r in replies} == {(200, "alive\n")}


def test_tls_sites_answer_on_the_tls_listener_with_their_certificate(
    nginx_balancer: NginxBalancer, upstream_servers: Upstreams, tmp_path: Path
) -> None:
    (web,) = upstream_servers("secure")
    cert, key = self_signed(tmp_path / "certs", "secure.acme.test")
    tls_listen = f"127.0.0.1:{free_port()}"
    site = Site("acme", "web", "prod", "secure.acme.test", "/", (web.upstream,), Tls(str(cert), str(key)))
    version = _apply(nginx_balancer, site, tls_listen=tls_listen)
    reply = fetch(tls_listen, "secure.acme.test", tls=ssl.create_default_context(cafile=str(cert)))
    assert (reply.status, reply.body, reply.version) == (200, "secure\n", version)


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
    _apply(nginx_balancer, honest)
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
        _apply(nginx_balancer, Site("acme", "web", "prod", "web.acme.test", "/", (public_app.upstream,)))
        site = Site(
            "acme", "db-admin", "prod", "admin.acme.test", "/", (internal_app.upstream,), zone="internal"
        )
        assert isinstance(internal, NginxBalancer)
        _apply(internal, site)
        assert fetch(internal.listen, "admin.acme.test").body == "internal-app\n"
        assert fetch(nginx_balancer.listen, "admin.acme.test").status == 404
        assert fetch(internal.listen, "web.acme.test").status == 404
        assert internal.live.parent != nginx_balancer.live.parent
    finally:
        internal.stop()
