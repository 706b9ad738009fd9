"""What every balancer (a real nginx and a real haproxy) serves from its rendered config: virtual hosts,
paths, 503s for sites without instances, 404s for unknown hosts, the version header, TLS sites."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from shera.contrib.exposure.model import Site, Tls
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.render import STATUS_HOST, STATUS_PATH
from tests.support.balancers import Upstreams, apply_sites, fetch, self_signed, start_balancer
from tests.support.registry import free_port


@pytest.fixture(params=["nginx", "haproxy"])
def balancer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ManagedBalancer]:
    """A private balancer of each kind (public zone, no sites yet) on a free loopback port."""
    kind: str = request.param
    started = start_balancer(kind, tmp_path / kind)
    try:
        yield started
    finally:
        started.stop()


def test_requests_reach_the_site_of_their_host_and_path(
    balancer: ManagedBalancer, upstream_servers: Upstreams
) -> None:
    web, api, shop = upstream_servers("web", "api", "shop")
    version = apply_sites(
        balancer,
        Site("acme", "web", "prod", "web.acme.test", "/", (web.upstream,)),
        Site("acme", "api", "prod", "web.acme.test", "/api", (api.upstream,)),
        Site("acme", "shop", "prod", "shop.acme.test", "/", (shop.upstream,)),
        Site("acme", "idle", "prod", "idle.acme.test", "/", ()),
    )
    listen = balancer.listen
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


def test_tls_sites_answer_on_the_tls_listener_with_their_certificate(
    balancer: ManagedBalancer, upstream_servers: Upstreams, tmp_path: Path
) -> None:
    (web,) = upstream_servers("secure")
    cert, key = self_signed(tmp_path / "certs", "secure.acme.test")
    tls_listen = f"127.0.0.1:{free_port()}"
    site = Site("acme", "web", "prod", "secure.acme.test", "/", (web.upstream,), Tls(str(cert), str(key)))
    version = apply_sites(balancer, site, tls_listen=tls_listen)
    reply = fetch(tls_listen, "secure.acme.test", tls=ssl.create_default_context(cafile=str(cert)))
    assert (reply.status, reply.body, reply.version) == (200, "secure\n", version)
