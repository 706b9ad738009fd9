"""Step runner ``uses: expose`` for ``shera exec --data-dir D`` (project ``local``): the exposure is
registered in D, D's embedded nginx is started and serves it at once (the app's instance is a named HTTP
server written into the podman target's state under D as a rollout would), the URL is printed; bad input
fails located."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shera.contrib.exposure.embedded import stop_all
from shera.deploy.podman.state import StateStore, empty_state
from shera.model.event import Event
from shera.model.plan import StepKind, StepPlan, WorkflowPlan
from shera.model.status import Status
from shera.steps.deploy_wiring import local_database
from shera.steps.expose_runner import ExposeRunner, HubOpener
from shera.steps.runner import KindContext
from shera.store import exposures
from shera.store.exposures import NewExposure
from tests.support.balancers import NamedUpstream, fetch, unavailable


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    import shutil

    if shutil.which("nginx") is None:
        unavailable("nginx (apt-get install nginx)")
    monkeypatch.delenv("SHERA_EXPOSE_LISTEN", raising=False)
    monkeypatch.delenv("SHERA_EXPOSE_DOMAIN", raising=False)
    monkeypatch.delenv("SHERA_CONFIG", raising=False)
    path = tmp_path / "data"
    yield path
    stop_all(path)


@pytest.fixture
def app_server() -> Iterator[NamedUpstream]:
    server = NamedUpstream("web-v1")
    yield server
    server.close()


@pytest.fixture
def runner() -> Iterator[ExposeRunner]:
    opener = HubOpener()
    yield ExposeRunner(opener)
    opener.close()


def context(with_: Mapping[str, Any], data_dir: Path) -> tuple[KindContext, bytearray]:
    log = bytearray()
    step = StepPlan(
        name="publish", kind=StepKind.USES, uses="expose", with_=dict(with_), file=".shera.yml", line=9
    )
    ctx = KindContext(
        step=step,
        workflow=WorkflowPlan(name="ci"),
        event=Event(commit="c" * 40, branch="main", default_branch="main"),
        source_dir=Path("/nonexistent"),
        env={},
        secrets={},
        out=log.extend,
        cancel=threading.Event(),
        data_dir=data_dir,
    )
    return ctx, log


def deployed(data_dir: Path, server: NamedUpstream) -> None:
    state = empty_state("local", "web", "production")
    state["revision"] = 1
    state["instances"]["web-1"] = {
        "revision": 1, "number": 1, "ports": {"8080": server.port}, "primary": server.port, "serving": True,
    }  # fmt: skip
    StateStore(data_dir / "deploy" / "podman").save(state)


def test_expose_registers_serves_through_nginx_and_prints_the_url(
    data_dir: Path, runner: ExposeRunner, app_server: NamedUpstream
) -> None:
    app = app_server
    deployed(data_dir, app)
    ctx, log = context({"app": "web"}, data_dir)

    result = runner.run(ctx)

    assert result.result.status is Status.SUCCESS, result.result.error
    data = result.artifacts["expose"]
    assert data["host"] == "web.local.localhost"  # <app>.<tenant>.<domain>, environment of main
    assert data["environment"] == "production"
    assert data["upstreams"] == [f"127.0.0.1:{app.port}"]
    listen = data["url"].removeprefix("http://web.local.localhost:").rstrip("/")
    assert f"URL: http://web.local.localhost:{listen}/" in log.decode()
    reply = fetch(f"127.0.0.1:{listen}", "web.local.localhost")
    assert (reply.status, reply.body.strip()) == (200, "web-v1")
    assert reply.version == data["version"]


def test_expose_before_deploy_succeeds_and_the_site_answers_503(data_dir: Path, runner: ExposeRunner) -> None:
    ctx, log = context({"app": "web", "host": "web.example.test", "path": "/shop"}, data_dir)

    result = runner.run(ctx)

    assert result.result.status is Status.SUCCESS, result.result.error
    assert "answers 503 until the app is deployed" in log.decode()
    url = result.artifacts["expose"]["url"]
    listen = url.removeprefix("http://web.example.test:").removesuffix("/shop")
    assert fetch(f"127.0.0.1:{listen}", "web.example.test", "/shop").status == 503


def test_a_hostile_name_fails_located_and_registers_nothing(data_dir: Path, runner: ExposeRunner) -> None:
    ctx, _log = context({"app": "a;}location/x{return 200 pwned;}#"}, data_dir)

    result = runner.run(ctx)

    assert result.result.status is Status.FAILURE
    assert result.result.error is not None and result.result.error.startswith(
        ".shera.yml:9: step 'publish': with.app"
    )
    db = local_database(data_dir)
    try:
        assert exposures.list_exposures(db, None) == []
    finally:
        db.dispose()


def test_a_host_another_tenant_holds_fails(data_dir: Path, runner: ExposeRunner) -> None:
    from shera.store import releases

    db = local_database(data_dir)
    try:
        releases.ensure_tenant(db, "other")
        exposures.save_exposure(db, NewExposure("other", "shop", "production", "public", "web.example.test"))
    finally:
        db.dispose()
    ctx, _log = context({"app": "web", "host": "web.example.test"}, data_dir)

    result = runner.run(ctx)

    assert result.result.status is Status.FAILURE
    assert "exposed by another tenant" in (result.result.error or "")


def test_tls_true_without_a_platform_certificate_fails(data_dir: Path, runner: ExposeRunner) -> None:
    ctx, _log = context({"app": "web", "tls": True}, data_dir)

    result = runner.run(ctx)

    assert result.result.status is Status.FAILURE
    assert "platform certificate" in (result.result.error or "")
