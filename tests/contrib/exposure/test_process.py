"""Safe apply with real nginx and haproxy: validate, swap, reload, verify, restore; no failed requests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shera.contrib.exposure.haproxy import HaproxyBalancer
from shera.contrib.exposure.model import Site, Tls, ZoneConfig
from shera.contrib.exposure.nginx import NginxBalancer
from shera.contrib.exposure.probe import children
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.render import Rendered, render_haproxy, render_nginx
from tests.support.balancers import NamedUpstream, RequestLoop, Upstreams, fetch, start_balancer

HOST = "web.acme.test"
RENDER: dict[str, Callable[[ZoneConfig], Rendered]] = {"nginx": render_nginx, "haproxy": render_haproxy}


@pytest.fixture(params=["nginx", "haproxy"])
def balancer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ManagedBalancer]:
    started = start_balancer(request.param, tmp_path / request.param)
    try:
        yield started
    finally:
        started.stop()


def _rendered(balancer: ManagedBalancer, servers: list[NamedUpstream], listen: str | None = None) -> Rendered:
    site = Site("acme", "web", "prod", HOST, "/", tuple(s.upstream for s in servers))
    return RENDER[balancer.kind](ZoneConfig("public", listen or balancer.listen, (site,)))


@pytest.mark.slow
def test_twenty_endpoint_changes_under_load_fail_no_request(
    balancer: ManagedBalancer, upstream_servers: Upstreams
) -> None:
    # Given a site served by set A, and a request loop of fresh connections through the balancer
    set_a, set_b = upstream_servers("a1", "a2"), upstream_servers("b1", "b2")
    assert balancer.apply(_rendered(balancer, set_a)).ok
    versions = {balancer.current_version()}
    with RequestLoop(balancer.listen, HOST, threads=4, max_requests=200_000, max_seconds=60) as loop:
        time.sleep(0.2)
        # When the endpoints alternate between the sets 20 times, each change reloading the balancer
        for change in range(20):
            result = balancer.apply(_rendered(balancer, set_b if change % 2 == 0 else set_a))
            assert result.ok and result.reloaded, result.message
            assert balancer.served_version() == result.version
            versions.add(result.version)
            time.sleep(0.1)
        stats = loop.stop()
    # Then no request failed, the loop ran at >= 100 req/s, and both sets answered under the header's versions
    assert stats.failures == [], stats.failures[:5]
    assert stats.rate >= 100, f"{stats.rate:.0f} req/s"
    assert set(stats.bodies) == {"a1", "a2", "b1", "b2"}
    assert set(stats.versions) <= versions and len(stats.versions) == 2


def test_an_invalid_candidate_is_rejected_and_the_old_config_keeps_serving(
    balancer: ManagedBalancer, upstream_servers: Upstreams, tmp_path: Path
) -> None:
    good = balancer.apply(_rendered(balancer, upstream_servers("a1")))
    assert good.ok
    # A valid model whose certificate does not exist: only the balancer's own check can tell
    missing = str(tmp_path / "missing.pem")
    site = Site("acme", "web", "prod", HOST, "/", (), Tls(missing, missing))
    tls_port = _free_port()
    bad = RENDER[balancer.kind](ZoneConfig("public", balancer.listen, (site,), f"127.0.0.1:{tls_port}"))
    for candidate in (bad, Rendered("this is { not a config", "0123456789abcdef", listen=balancer.listen)):
        result = balancer.apply(candidate)
        assert not result.ok and not result.reloaded
        assert result.version == good.version and result.candidate == candidate.version
        assert "rejected" in result.message
        assert balancer.current_version() == good.version
        reply = fetch(balancer.listen, HOST)
        assert (reply.status, reply.body, reply.version) == (200, "a1\n", good.version)
    assert "missing.pem" in balancer.apply(bad).message
    assert balancer.rejected.read_text() == bad.text  # kept for inspection


def test_a_listen_address_in_use_is_refused_before_the_swap(
    balancer: ManagedBalancer, upstream_servers: Upstreams
) -> None:
    good = balancer.apply(_rendered(balancer, upstream_servers("a1")))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        result = balancer.apply(_rendered(balancer, upstream_servers("b1"), listen=taken))
    assert not result.ok and not result.reloaded
    assert f"cannot listen on {taken}" in result.message
    assert fetch(balancer.listen, HOST).version == good.version == balancer.current_version()


def test_a_reload_the_balancer_cannot_load_is_rolled_back(
    balancer: ManagedBalancer, upstream_servers: Upstreams
) -> None:
    # Given a serving config, and a checker that lets a broken candidate through (as if it missed something)
    good = balancer.apply(_rendered(balancer, upstream_servers("a1")))
    balancer.validate = lambda path: None  # type: ignore[method-assign]
    broken = Rendered("this is { not a config\n", "0123456789abcdef", listen=balancer.listen)
    with RequestLoop(balancer.listen, HOST, threads=2, max_seconds=30) as loop:
        result = balancer.apply(broken)
        stats = loop.stop()
    # Then the reload failure is reported quickly, the previous file is back and nothing failed meanwhile
    assert not result.ok and result.reloaded
    assert "could not load it" in result.message
    assert f"restored and serving {good.version}" in result.message
    assert result.seconds < 3  # the logged failure ends the wait; no need to wait out verify_timeout
    assert balancer.current_version() == good.version == result.version
    assert stats.failures == [] and set(stats.versions) == {good.version}


def test_unchanged_output_does_not_reload(balancer: ManagedBalancer, upstream_servers: Upstreams) -> None:
    rendered = _rendered(balancer, upstream_servers("a1"))
    assert balancer.apply(rendered).reloaded
    workers = children(balancer.pid() or 0)
    again = balancer.apply(rendered)
    assert again.ok and not again.reloaded and again.message.startswith("unchanged")
    assert children(balancer.pid() or 0) == workers  # the same worker processes: nothing was reloaded


def test_a_second_handle_adopts_the_running_balancer_and_stops_it_by_pid(
    balancer: ManagedBalancer, upstream_servers: Upstreams
) -> None:
    rendered = _rendered(balancer, upstream_servers("a1"))
    balancer.apply(rendered)
    cls = NginxBalancer if balancer.kind == "nginx" else HaproxyBalancer
    other = cls(balancer.state_dir, listen="127.0.0.1:1")  # listen only matters for a first config
    assert other.pid() == balancer.pid() and other.current_version() == rendered.version
    other.start()  # adopts: no second process
    assert other.pid() == balancer.pid()
    other.stop()
    assert balancer.pid() is None and other.pid() is None
    with pytest.raises(OSError):
        fetch(balancer.listen, HOST, timeout=1)
    balancer.start()  # starts again on the live config
    assert fetch(balancer.listen, HOST).version == rendered.version


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
