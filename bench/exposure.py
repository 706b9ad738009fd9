"""Benchmarks: exposure — time from an endpoint change to the new config serving, and failed requests
across 50 reloads under load, for a private nginx and a private haproxy (``make bench``).

An endpoint change is what the controller does on an event: render the zone with the new upstreams and hand
it to the ``Debouncer`` in front of the balancer; it has taken effect when a fresh request for the site is
answered by the new upstream. The load is a loop of fresh connections (4 threads) through the balancer while
the upstreams alternate between two sets of named loopback servers.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.stats import percentile, show
from shera.contrib.exposure.apply import Debouncer
from shera.contrib.exposure.haproxy import HaproxyBalancer
from shera.contrib.exposure.model import Site, ZoneConfig
from shera.contrib.exposure.nginx import NginxBalancer
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.render import Rendered, render_haproxy, render_nginx
from tests.support.balancers import NamedUpstream, RequestLoop, fetch
from tests.support.registry import free_port

HOST = "web.acme.bench"
CHANGES = 20
RELOADS = 50
RENDER: dict[str, Callable[[ZoneConfig], Rendered]] = {"nginx": render_nginx, "haproxy": render_haproxy}


def _zone(listen: str, servers: list[NamedUpstream]) -> ZoneConfig:
    return ZoneConfig(
        "public", listen, (Site("acme", "web", "prod", HOST, "/", tuple(s.upstream for s in servers)),)
    )


def _change_to_serving(balancer: ManagedBalancer, servers: list[NamedUpstream]) -> list[float]:
    """Seconds from each endpoint change to the first request answered by the new upstream."""
    render = RENDER[balancer.kind]
    debouncer = Debouncer(balancer, min_interval=0.2)
    times = []
    try:
        for change in range(CHANGES):
            target = servers[change % len(servers)]
            started = time.monotonic()
            debouncer.submit(render(_zone(balancer.listen, [target])))
            while fetch(balancer.listen, HOST).body.strip() != target.name:
                if time.monotonic() - started > 10:
                    raise TimeoutError(f"{balancer.kind} did not switch to {target.name} in 10 s")
                time.sleep(0.002)
            times.append(time.monotonic() - started)
            time.sleep(0.25)  # changes arrive apart, as deploys do; bursts are the debouncer's business
    finally:
        debouncer.close()
    return times


def _reloads_under_load(
    balancer: ManagedBalancer, set_a: list[NamedUpstream], set_b: list[NamedUpstream]
) -> tuple[int, int, float]:
    """(failed requests, requests, req/s) during RELOADS applies alternating between the two sets."""
    render = RENDER[balancer.kind]
    with RequestLoop(balancer.listen, HOST, threads=4, max_requests=1_000_000, max_seconds=120) as loop:
        for change in range(RELOADS):
            result = balancer.apply(render(_zone(balancer.listen, set_b if change % 2 == 0 else set_a)))
            if not result.ok:
                raise RuntimeError(result.message)
            time.sleep(0.05)
        stats = loop.stop()
    return len(stats.failures), stats.requests, stats.rate


def bench_exposure() -> list[tuple[float, bool]]:
    results: list[tuple[float, bool]] = []
    for kind, cls in (("nginx", NginxBalancer), ("haproxy", HaproxyBalancer)):
        if shutil.which(kind) is None:
            print(f"exposure ({kind}): {kind} is not installed; skipped")
            continue
        with tempfile.TemporaryDirectory(prefix=f"shera-bench-{kind}-") as tmp:
            balancer: ManagedBalancer = cls(Path(tmp), listen=f"127.0.0.1:{free_port()}")
            servers = [NamedUpstream(f"{kind}-{i}") for i in range(4)]
            try:
                balancer.start()
                switch = _change_to_serving(balancer, servers)
                failed, requests, rate = _reloads_under_load(balancer, servers[:2], servers[2:])
            finally:
                balancer.stop()
                for server in servers:
                    server.close()
        worst = max(switch)
        print(f"exposure ({kind}): {CHANGES} endpoint changes, then {RELOADS} reloads under load")
        ok = show(
            "endpoint change -> new config serving",
            f"median {percentile(switch, 50) * 1000:.0f} ms, max {worst * 1000:.0f} ms",
            "<= 1 s",
            worst <= 1.0,
        )
        results.append((worst, ok))
        ok = show(
            f"failed requests across {RELOADS} reloads",
            f"{failed} of {requests} ({rate:.0f} req/s)",
            "0",
            failed == 0,
        )
        results.append((float(failed), ok))
    return results


if __name__ == "__main__":
    bench_exposure()
