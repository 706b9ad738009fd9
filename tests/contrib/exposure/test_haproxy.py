"""The rendered haproxy config served by a real haproxy: virtual hosts, paths, 503s, TLS, active checks."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path

from shera.contrib.exposure.haproxy import HaproxyBalancer
from shera.contrib.exposure.model import Site, Tls, Upstream, ZoneConfig
from shera.contrib.exposure.render import STATUS_HOST, STATUS_PATH, render_haproxy
from tests.support.balancers import NamedUpstream, fetch, free_port, self_signed

Upstreams = Callable[..., list[NamedUpstream]]


def _apply(balancer: HaproxyBalancer, *sites: Site, tls_listen: str | None = None) -> str:
    result = balancer.apply(render_haproxy(ZoneConfig(balancer.zone, balancer.listen, sites, tls_listen)))
    assert result.ok, result.message
    return result.version or ""


def test_requests_reach_the_site_of_their_host_and_path(
    haproxy_balancer: HaproxyBalancer, upstream_servers: Upstreams
) -> None:
    web, api, shop = upstream_servers("web", "api", "shop")
    version = _apply(
        haproxy_balancer,
        Site("acme", "web", "prod", "web.acme.test", "/", (web.upstream,)),
        Site("acme", "api", "prod", "web.acme.test", "/api", (api.upstream,)),
        Site("acme", "shop", "prod", "shop.acme.test", "/", (shop.upstream,)),
        Site("acme", "idle", "prod", "idle.acme.test", "/", ()),
    )
    listen = haproxy_balancer.listen
    assert fetch(listen, "web.acme.test", "/page").body == "web\n"
    assert fetch(listen, "web.acme.test", "/api/v1").body == "api\n"
    assert fetch(listen, "Shop.Acme.Test:80", "/").body == "shop\n"  # case and port in Host do not matter
    idle = fetch(listen, "idle.acme.test")
    assert (idle.status, idle.body) == (503, "idle (prod, tenant acme) has no running instance")
    unknown = fetch(listen, "nobody.acme.test")
    assert unknown.status == 404 and unknown.version == version
    assert fetch(listen, STATUS_HOST, STATUS_PATH).body.strip() == version
    assert {fetch(listen, h).version for h in ("web.acme.test", "shop.acme.test", "idle.acme.test")} == {
        version
    }


def test_active_checks_take_a_dead_upstream_out(
    haproxy_balancer: HaproxyBalancer, upstream_servers: Upstreams
) -> None:
    (alive,) = upstream_servers("alive")
    dead = Upstream("127.0.0.1", free_port())  # nothing listens there
    _apply(haproxy_balancer, Site("acme", "web", "prod", "web.acme.test", "/", (alive.upstream, dead)))
    # Requests succeed at once (retries move to the other server), and the checks mark the dead one down
    replies = [fetch(haproxy_balancer.listen, "web.acme.test") for _ in range(30)]
    assert {(r.status, r.body) for r in replies} == {(200, "alive\n")}
    dead_name, alive_name = ("u1", "u2") if dead < alive.upstream else ("u2", "u1")  # servers go by address
    deadline = time.monotonic() + 10  # fall 3 x inter 2s
    while (
        time.monotonic() < deadline and f"/{dead_name} is DOWN" not in haproxy_balancer.log_path.read_text()
    ):
        time.sleep(0.1)
    log = haproxy_balancer.log_path.read_text()
    assert f"/{dead_name} is DOWN, reason: Layer4 connection problem" in log
    assert f"/{alive_name} is DOWN" not in log


def test_tls_sites_answer_on_the_tls_listener_with_their_certificate(
    haproxy_balancer: HaproxyBalancer, upstream_servers: Upstreams, tmp_path: Path
) -> None:
    (web,) = upstream_servers("secure")
    cert, key = self_signed(tmp_path / "certs", "secure.acme.test")
    tls_listen = f"127.0.0.1:{free_port()}"
    site = Site("acme", "web", "prod", "secure.acme.test", "/", (web.upstream,), Tls(str(cert), str(key)))
    version = _apply(haproxy_balancer, site, tls_listen=tls_listen)
    reply = fetch(tls_listen, "secure.acme.test", tls=ssl.create_default_context(cafile=str(cert)))
    assert (reply.status, reply.body, reply.version) == (200, "secure\n", version)
