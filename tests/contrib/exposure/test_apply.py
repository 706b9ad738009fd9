"""The Debouncer: bursts coalesce into at most one apply per interval, the last config wins, no-ops skip."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shera.contrib.exposure.apply import Debouncer
from shera.contrib.exposure.model import Site, Upstream, ZoneConfig
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.render import Rendered, render_haproxy, render_nginx
from shera.contrib.exposure.stub import StubBalancer
from tests.support.balancers import NamedUpstream, fetch, start_balancer

HOST = "web.acme.test"
RENDER: dict[str, Callable[[ZoneConfig], Rendered]] = {"nginx": render_nginx, "haproxy": render_haproxy}


def _config(port: int, listen: str = "127.0.0.1:8080", kind: str = "nginx") -> Rendered:
    site = Site("acme", "web", "prod", HOST, "/", (Upstream("127.0.0.1", port),))
    return RENDER[kind](ZoneConfig("public", listen, (site,)))


@pytest.fixture
def stub() -> Iterator[tuple[StubBalancer, Debouncer]]:
    balancer = StubBalancer()
    debouncer = Debouncer(balancer, min_interval=0.2)
    try:
        yield balancer, debouncer
    finally:
        debouncer.close()


def test_a_burst_of_thirty_configs_makes_at_most_two_reloads_and_the_last_wins(
    stub: tuple[StubBalancer, Debouncer],
) -> None:
    balancer, debouncer = stub
    configs = [_config(9000 + i) for i in range(30)]
    started = time.monotonic()
    for config in configs:
        debouncer.submit(config)
        time.sleep(0.003)
    assert time.monotonic() - started < 0.1 + 0.05
    result = debouncer.flush()
    assert balancer.reloads <= 2 and debouncer.reloads == balancer.reloads
    assert balancer.serving == configs[-1] and result is not None and result.version == configs[-1].version


def test_applies_are_spaced_by_the_interval(stub: tuple[StubBalancer, Debouncer]) -> None:
    balancer, debouncer = stub
    stamps: list[float] = []
    original = balancer.apply

    def timed(rendered: Rendered):  # type: ignore[no-untyped-def]
        stamps.append(time.monotonic())
        return original(rendered)

    balancer.apply = timed  # type: ignore[method-assign]
    for i in range(5):
        debouncer.submit(_config(9100 + i))
        debouncer.flush()
    assert len(stamps) == 5
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 0.2 - 0.01


def test_unchanged_output_is_not_applied(stub: tuple[StubBalancer, Debouncer]) -> None:
    balancer, debouncer = stub
    config = _config(9200)
    debouncer.submit(config)
    debouncer.flush()
    for _ in range(5):
        debouncer.submit(_config(9200))  # rendered again from the same inputs: same version
    debouncer.flush()
    assert balancer.reloads == 1 and debouncer.applies == 1


def test_a_rejected_config_is_reported_and_the_old_one_stays(stub: tuple[StubBalancer, Debouncer]) -> None:
    balancer, debouncer = stub
    good, bad = _config(9300), _config(9301)
    debouncer.submit(good)
    debouncer.flush()
    balancer.reject.add(bad.version)
    debouncer.submit(bad)
    result = debouncer.flush()
    assert result is not None and not result.ok and result.version == good.version
    assert balancer.serving == good


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_a_burst_against_a_real_balancer_serves_the_last_config(
    kind: str, tmp_path: Path, upstream_servers: Callable[..., list[NamedUpstream]]
) -> None:
    balancer: ManagedBalancer = start_balancer(kind, tmp_path / kind)
    debouncer = Debouncer(balancer, min_interval=0.2)
    try:
        servers = upstream_servers(*(f"u{i}" for i in range(30)))
        configs = [
            RENDER[kind](
                ZoneConfig(
                    "public", balancer.listen, (Site("acme", "web", "prod", HOST, "/", (s.upstream,)),)
                )
            )
            for s in servers
        ]
        started = time.monotonic()
        for config in configs:
            debouncer.submit(config)
        assert time.monotonic() - started < 0.1
        result = debouncer.flush()
        assert result is not None and result.ok, result
        assert debouncer.reloads <= 2
        reply = fetch(balancer.listen, HOST)
        assert (reply.body, reply.version) == ("u29\n", configs[-1].version)
        debouncer.submit(configs[-1])
        debouncer.flush()
        assert debouncer.reloads <= 2  # unchanged: skipped
    finally:
        debouncer.close()
        balancer.stop()
