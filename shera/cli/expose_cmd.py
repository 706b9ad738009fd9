"""CLI layer: ``shera expose ls | run`` and ``shera down`` — exposed apps, the always-on controller, teardown.

- ``shera expose ls [--format json]``: app, zone, host, URL and upstreams of the caller's exposures, from the
  API (``--url``/``--token`` or the saved login) or, with ``--data-dir D``, from D (tenant ``local``).
- ``shera expose run``: the exposure controller as a process until SIGTERM/Ctrl-C. With ``--data-dir D``:
  D's embedded nginx (what ``shera exec --data-dir D`` started) kept in step with D's deploys. Without: the
  server's database (settings), one balancer (``--kind nginx|haproxy``) for ``--zone`` with its state
  under ``--state-dir`` (default ``<data_dir>/expose/<zone>``), listening on ``--listen``; endpoints from
  the podman target's state and, when a kubeconfig is configured, from Kubernetes.
- ``shera down --data-dir D``: stops everything D still runs — the podman target's service containers
  (found through its state files; releases stay recorded) and the embedded balancers.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shera.cli.client import Client, ClientError, resolve_target
from shera.errors import ConfigError, SheraError
from shera.settings import Settings, load_settings

if TYPE_CHECKING:
    from shera.contrib.exposure.embedded import Embedded
    from shera.store.db import Database

UrlOpt = Annotated[str | None, typer.Option("--url", help="API URL (default: SHERA_URL or the saved login).")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token (default: SHERA_TOKEN or saved).")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Work on this data directory without a server.")
]
FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]
COLUMNS = ["app", "environment", "zone", "host", "url", "upstreams"]


def _fail(exc: Exception, code: int = 1) -> typer.Exit:
    typer.echo(f"shera: {exc}", err=True)
    return typer.Exit(code)


def _local_rows(data_dir: Path) -> list[dict[str, Any]]:
    from shera.contrib.exposure.embedded import balancer_for
    from shera.contrib.exposure.service import ExposureService
    from shera.steps.deploy_wiring import LOCAL_TENANT, local_database
    from shera.steps.expose_runner import expose_settings

    data_dir = data_dir.resolve()
    db = local_database(data_dir)
    try:
        url = balancer_for(data_dir, "public").url
        domain, _listen = expose_settings(load_settings(data_dir=data_dir))
        addresses = {"public": url.removeprefix("http://")} if url else None
        views = ExposureService(db, domain=domain, addresses=addresses).list(LOCAL_TENANT)
        return [view.as_dict() for view in views]
    finally:
        db.dispose()


def _api_rows(url: str | None, token: str | None) -> list[dict[str, Any]]:
    client = Client(resolve_target(url, token))
    try:
        return list(client.request("GET", "/api/v1/exposures")["data"])
    finally:
        client.close()


def ls(
    fmt: FormatOpt = "text", url: UrlOpt = None, token: TokenOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Exposed apps: app, zone, host, URL and the upstreams the balancer routes to now."""
    try:
        rows = _local_rows(data_dir) if data_dir is not None else _api_rows(url, token)
    except ConfigError as exc:
        raise _fail(exc, 2) from exc
    except (ClientError, SheraError) as exc:
        raise _fail(exc) from exc
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Exposures")
    for column in COLUMNS:
        table.add_column(column)
    for row in rows:
        ups = " ".join(row.get("upstreams") or []) or "(none)"
        table.add_row(*(ups if c == "upstreams" else str(row.get(c) or "") for c in COLUMNS))
    Console(width=200).print(table)


def _until_signalled(stop: threading.Event) -> None:
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _server_sources(settings: Settings) -> dict[str, Any]:
    from shera.contrib.exposure.sources import PodmanSource

    sources: dict[str, Any] = {"podman": PodmanSource.for_data_dir(settings.data_dir)}
    if settings.kubeconfig or settings.default_deploy_target == "kubernetes":
        from shera.contrib.exposure.kubesource import KubernetesSource

        mode = settings.expose_kube_mode
        sources["kubernetes"] = KubernetesSource(
            kubeconfig=settings.kubeconfig,
            context=settings.kube_context,
            mode=mode,  # type: ignore[arg-type]
        )
    return sources


def run(
    data_dir: DataDirOpt = None,
    zone: Annotated[str, typer.Option("--zone", help="public or internal (server mode).")] = "public",
    kind: Annotated[str, typer.Option("--kind", help="nginx or haproxy (server mode).")] = "nginx",
    listen: Annotated[str | None, typer.Option("--listen", help="IP:PORT the balancer listens on.")] = None,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Balancer state (server).")] = None,
    resync: Annotated[float, typer.Option("--resync", help="Full resync every N seconds.")] = 30.0,
) -> None:
    """The always-on exposure controller, until SIGTERM or Ctrl-C (see ``shera expose --help``)."""
    from shera.contrib.exposure.controller import ExposureController, Listen
    from shera.contrib.exposure.embedded import Embedded, free_loopback
    from shera.contrib.exposure.haproxy import HaproxyBalancer
    from shera.contrib.exposure.nginx import NginxBalancer
    from shera.steps.deploy_wiring import local_database
    from shera.steps.expose_runner import expose_settings
    from shera.store.db import Database

    stop = threading.Event()
    try:
        if data_dir is not None:
            data_dir = data_dir.resolve()
            db = local_database(data_dir)
            _domain, configured = expose_settings(load_settings(data_dir=data_dir))
            embedded = Embedded(db, data_dir, listen={"public": listen or configured}, resync_interval=resync)
            embedded.start()
            typer.echo(f"Exposure controller for {data_dir}: apps at {embedded.url()}")
            try:
                _until_signalled(stop)
            finally:
                embedded.close()
            return
        if zone not in ("public", "internal") or kind not in ("nginx", "haproxy"):
            raise ConfigError(f"--zone {zone} --kind {kind}: zones are public|internal, kinds nginx|haproxy")
        settings = load_settings()
        address = listen or expose_settings(settings)[1] or free_loopback()
        where = state_dir or settings.data_dir / "expose" / zone
        cls = NginxBalancer if kind == "nginx" else HaproxyBalancer
        balancer = cls(where, zone=zone, listen=address)
        db = Database(settings.effective_database_url)
        controller = ExposureController(
            db, _server_sources(settings), {zone: balancer}, listen={zone: Listen(address)},
            resync_interval=resync,
        )  # fmt: skip
        controller.sync()
        controller.start()
        typer.echo(f"Exposure controller: zone {zone} served by {kind} at http://{address}")
        try:
            _until_signalled(stop)
        finally:
            controller.stop()
            balancer.stop()
            db.dispose()
    except ConfigError as exc:
        raise _fail(exc, 2) from exc
    except SheraError as exc:
        raise _fail(exc) from exc


def down(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The data directory to stop.")],
) -> None:
    """Stop everything a data directory still runs: service containers and the embedded balancer."""
    from shera.contrib.exposure.embedded import stop_all
    from shera.deploy.podman.state import StateStore
    from shera.deploy.podman.target import PodmanTarget

    data_dir = data_dir.resolve()
    target = PodmanTarget(data_dir=data_dir)
    problems: list[str] = []
    for path in sorted(StateStore(target.state_dir).root.glob("*/*/*.json")):
        tenant, app, environment = path.parent.parent.name, path.parent.name, path.stem
        try:
            target.delete(tenant, app, environment)
            typer.echo(f"stopped {app} ({environment})")
        except SheraError as exc:
            problems.append(f"{app} ({environment}): {exc}")
    try:
        for zone in stop_all(data_dir):
            typer.echo(f"stopped the {zone} balancer")
    except SheraError as exc:
        problems.append(f"balancer: {exc}")
    for problem in problems:
        typer.echo(f"shera: {problem}", err=True)
    if problems:
        raise typer.Exit(1)


def start_embedded(settings: Settings) -> tuple[Embedded, Database]:
    """``shera up``'s exposure: the private nginx of the public zone (on ``SHERA_EXPOSE_LISTEN`` or a free
    loopback port) and the controller, in the calling process, over the server's database. The caller
    closes both (``embedded.close(stop_balancers=True)``, ``db.dispose()``)."""
    from shera.contrib.exposure.embedded import Embedded
    from shera.steps.expose_runner import expose_settings
    from shera.store.db import Database

    db = Database(settings.effective_database_url)
    sources = _server_sources(settings)
    sources.pop("podman")
    listen = expose_settings(settings)[1]
    embedded = Embedded(db, settings.data_dir, listen={"public": listen}, sources=sources)
    try:
        embedded.start()
    except BaseException:
        db.dispose()
        raise
    return embedded, db


def register(app: typer.Typer) -> None:
    """Add ``expose ls|run`` and ``down`` to ``app``."""
    group = typer.Typer(help="Apps exposed through the load balancers.", no_args_is_help=True)
    group.command("ls")(ls)
    group.command("run")(run)
    app.add_typer(group, name="expose")
    app.command("down")(down)
