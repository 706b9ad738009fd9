"""ExposureController with a real nginx: the podman target's state files change as a deploy, a scale-down and
a rollback would change them (the servers behind are named HTTP servers on loopback), and the balancer
follows: each change is served within a second, with no failed request in between, and recorded as
BalancerState."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shera.contrib.exposure.controller import ExposureController, Listen
from shera.contrib.exposure.model import Upstream
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.service import ExposeRequest, ExposureService
from shera.contrib.exposure.sources import PodmanSource
from shera.deploy.podman.state import StateStore, empty_state
from shera.errors import TemporaryError
from shera.store import exposures, releases
from shera.store.db import Database
from tests.support.balancers import NamedUpstream, RequestLoop, fetch
from tests.support.database import sqlite_database

HOST = "web.t.example.test"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = sqlite_database(tmp_path)
    releases.ensure_tenant(database, "t")
    yield database
    database.dispose()


class Deploys:
    """Writes the podman target's state file of t/web/prod as its rollouts do."""

    def __init__(self, root: Path) -> None:
        self.store = StateStore(root)

    def serve(self, *servers: NamedUpstream, revision: int = 1) -> None:
        state = empty_state("t", "web", "prod")
        state["revision"] = revision
        for server in servers:
            state["instances"][f"web-{server.name}"] = {
                "revision": revision,
                "number": 1,
                "ports": {"8080": server.port},
                "primary": server.port,
                "serving": True,
            }
        self.store.save(state)


@pytest.fixture
def running(
    db: Database, tmp_path: Path, nginx_balancer: ManagedBalancer
) -> Iterator[tuple[ExposureController, Deploys, str]]:
    listen = (nginx_balancer.url or "").removeprefix("http://")
    ExposureService(db, domain="example.test").register(ExposeRequest("t", "web", "prod"))
    source = PodmanSource(tmp_path / "state", poll_interval=0.05)
    controller = ExposureController(
        db, {"podman": source}, {"public": nginx_balancer}, listen={"public": Listen(listen)},
        resync_interval=60,
    )  # fmt: skip
    controller.start()
    yield controller, Deploys(tmp_path / "state"), listen
    controller.stop()


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "the balancer did not follow in time"
        time.sleep(0.02)
    return time.monotonic() - started


def answers(listen: str) -> set[str]:
    return {fetch(listen, HOST).body.strip() for _ in range(8)}


def test_deploy_scale_down_and_rollback_are_followed_without_failed_requests(
    running: tuple[ExposureController, Deploys, str],
    upstream_servers: Callable[..., list[NamedUpstream]],
    db: Database,
) -> None:
    controller, deploys, listen = running
    v1a, v1b, v2 = upstream_servers("v1a", "v1b", "v2")

    # Given v1 with two instances is serving (on every nginx worker: after a reload, the old workers
    # still take new connections for a moment, and the old config here is the one without instances)
    deploys.serve(v1a, v1b)
    wait_for(lambda: all(answers(listen) == {"v1a", "v1b"} for _ in range(5)))

    with RequestLoop(listen, HOST, threads=2, max_seconds=30) as loop:
        # When one instance is scaled away, it leaves the balancer
        deploys.serve(v1a)
        scaled = wait_for(lambda: answers(listen) == {"v1a"})
        # When v2 is deployed, the balancer switches to it
        deploys.serve(v2, revision=2)
        deployed = wait_for(lambda: answers(listen) == {"v2"})
        # When v1 is rolled back to, the balancer switches back
        deploys.serve(v1a, revision=3)
        rolled = wait_for(lambda: answers(listen) == {"v1a"})
        stats = loop.stop()

    # Then each change served within a second, and no request failed meanwhile
    assert max(scaled, deployed, rolled) < 1.0, (scaled, deployed, rolled)
    assert stats.failures == [], stats.failures[:5]
    assert stats.requests > 20
    # And the state records what serves: version, result, the one upstream
    serving = controller.balancers["public"].current_version()
    expected = [[{"host": "127.0.0.1", "port": v1a.port}]]

    def recorded() -> bool:
        state = exposures.balancer_states(db, "public")[0]
        return (state.version, list(state.upstreams.values())) == (serving, expected)

    wait_for(recorded)
    state = exposures.balancer_states(db, "public")[0]
    assert state.kind == "nginx"
    assert state.last_result is not None and state.last_result.startswith("ok"), state.last_result
    assert state.config is not None and state.version in state.config
    assert controller.passes >= 4


def test_an_unchanged_resync_does_not_reload(
    running: tuple[ExposureController, Deploys, str], upstream_servers: Callable[..., list[NamedUpstream]]
) -> None:
    controller, deploys, listen = running
    (v1,) = upstream_servers("v1")
    deploys.serve(v1)
    wait_for(lambda: answers(listen) == {"v1"})
    version = controller.balancers["public"].current_version()

    outcome = controller.sync()["public"]

    assert outcome.result == "ok: unchanged"
    assert controller.balancers["public"].current_version() == version


class Flaky:
    """A source that answers once, then fails as an unreachable platform does."""

    name = "flaky"

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.calls = 0

    def endpoints(
        self, tenant: str, app: str, environment: str, port: int | None = None
    ) -> tuple[Upstream, ...]:
        self.calls += 1
        if self.calls > 1:
            raise TemporaryError("the platform did not answer")
        return (self.upstream,)

    def watch(self, callback: Callable[[], None], stop: threading.Event) -> None:
        stop.wait()


def test_a_source_that_does_not_answer_keeps_the_upstreams(
    db: Database, nginx_balancer: ManagedBalancer, upstream_servers: Callable[..., list[NamedUpstream]]
) -> None:
    (v1,) = upstream_servers("v1")
    listen = (nginx_balancer.url or "").removeprefix("http://")
    ExposureService(db, domain="example.test").register(ExposeRequest("t", "web", "prod"))
    controller = ExposureController(
        db, {"flaky": Flaky(v1.upstream)}, {"public": nginx_balancer}, listen={"public": Listen(listen)}
    )
    try:
        assert controller.sync()["public"].upstreams
        second = controller.sync()["public"]
    finally:
        controller.stop()

    assert list(second.upstreams.values()) == [(v1.upstream,)]
    assert fetch(listen, HOST).body.strip() == "v1"


def test_an_exposure_without_instances_answers_503_naming_the_app(
    db: Database, nginx_balancer: ManagedBalancer, tmp_path: Path
) -> None:
    listen = (nginx_balancer.url or "").removeprefix("http://")
    ExposureService(db, domain="example.test").register(ExposeRequest("t", "web", "prod"))
    controller = ExposureController(
        db, {"podman": PodmanSource(tmp_path / "none")}, {"public": nginx_balancer},
        listen={"public": Listen(listen)},
    )  # fmt: skip
    try:
        controller.sync()
    finally:
        controller.stop()
    reply = fetch(listen, HOST)
    assert reply.status == 503
    assert "web" in reply.body
