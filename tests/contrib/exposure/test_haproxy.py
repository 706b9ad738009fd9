"""The rendered haproxy config served by a real haproxy: active checks (what every balancer serves is in
``test_balancers``)."""

from __future__ import annotations

import time

from shera.contrib.exposure.haproxy import HaproxyBalancer
from shera.contrib.exposure.model import Site, Upstream
from tests.support.balancers import Upstreams, apply_sites, fetch
from tests.support.registry import free_port


def test_active_checks_take_a_dead_upstream_out(
    haproxy_balancer: HaproxyBalancer, upstream_servers: Upstreams
) -> None:
    (alive,) = upstream_servers("alive")
    dead = Upstream("127.0.0.1", free_port())  # nothing listens there
    apply_sites(haproxy_balancer, Site("acme", "web", "prod", "web.acme.test", "/", (alive.upstream, dead)))
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
