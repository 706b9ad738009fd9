"""CLI layer: the server processes: ``shera serve`` (API), ``shera worker``, ``shera up`` (both, one machine).

``shera up`` is the embedded default: SQLite under the data dir, a private ``redis-server`` child when
``SHERA_REDIS_URL`` is unset, a private ``docker-registry`` child when ``SHERA_REGISTRY`` is unset (the worker
gets its address in ``SHERA_REGISTRY`` and ``SHERA_INSECURE_REGISTRIES``), the API in this process and a
``shera worker`` child process. It prints its URL when ready and stops every child, in reverse order, when it
exits (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from shera.cli.children import Child, free_port, port_answers, redis_child, registry_child
from shera.errors import ConfigError, SheraError
from shera.settings import Settings, load_settings

HostOpt = Annotated[str, typer.Option("--host", help="Address the API listens on.")]
PortOpt = Annotated[int, typer.Option("--port", help="Port the API listens on (0: a free one).")]
WORKER_READY = "She-Ra worker ready: "
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="State directory (default: SHERA_DATA_DIR or per-user).")
]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("up")(up)
    app.command("migrate")(migrate)


def _settings(data_dir: Path | None, **extra: object) -> Settings:
    try:
        return load_settings(data_dir=data_dir, **{k: v for k, v in extra.items() if v is not None})
    except SheraError as exc:
        typer.echo(f"shera: {exc}", err=True)
        raise typer.Exit(2) from exc


class _Stopped(BaseException):
    """SIGTERM or SIGINT arrived: unwind (``finally`` blocks stop children), then exit 0."""


@contextmanager
def _orderly_stop() -> Iterator[None]:
    """The first SIGTERM/SIGINT raises ``_Stopped`` in the main thread; later ones are ignored, so a
    second signal cannot cut the cleanup short. While uvicorn serves it handles the signal itself, then
    restores these handlers and re-raises the signal (uvicorn >= 0.29): without them that re-raise killed
    ``shera up`` before it stopped its worker and Redis children."""
    stopping = False

    def handle(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise _Stopped

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _fail(exc: SheraError) -> typer.Exit:
    typer.echo(f"shera: {exc}", err=True)
    return typer.Exit(1)


def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8080, data_dir: DataDirOpt = None) -> None:
    """Run the REST API and webhook endpoint."""
    port = port or free_port(host)
    settings = _settings(data_dir, public_url=_default_public_url(host, port))
    try:
        with _orderly_stop():
            _serve_api(settings, host, port, announce=False)
    except SheraError as exc:
        raise _fail(exc) from exc


def worker(
    data_dir: DataDirOpt = None,
    threads: Annotated[int | None, typer.Option("--threads", help="Worker threads.")] = None,
) -> None:
    """Run a worker: takes runs from the queue and executes them; also the reaper and the outbox relay."""
    from shera.queue.worker import run_worker

    settings = _settings(data_dir, worker_threads=threads)
    _freeze_heap()

    def ready(worker_id: str) -> None:
        typer.echo(f"{WORKER_READY}{worker_id} ({settings.worker_threads} threads)")
        sys.stdout.flush()

    try:
        run_worker(settings, on_ready=ready)
    except SheraError as exc:
        raise _fail(exc) from exc


def migrate(data_dir: DataDirOpt = None) -> None:
    """Bring the database schema to this version of She-Ra (``serve`` and ``up`` do it when they start)."""
    from shera.store.db import Database

    settings = _settings(data_dir)
    try:
        db = Database(settings.effective_database_url)
        try:
            db.migrate()
        finally:
            db.dispose()
    except SheraError as exc:
        raise _fail(exc) from exc
    typer.echo(f"database schema up to date: {db.safe_url}")


def up(host: HostOpt = "127.0.0.1", port: PortOpt = 8080, data_dir: DataDirOpt = None) -> None:
    """API, worker and (unless configured) a private Redis and registry in one process tree."""
    port = port or free_port(host)
    public_url = _default_public_url(host, port)
    settings = _settings(data_dir, public_url=public_url)
    children: list[Child] = []
    exposure: _Exposure | None = None
    with _orderly_stop():
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            overrides: dict[str, str] = {"SHERA_DATA_DIR": str(settings.data_dir)}
            if not settings.redis_url:
                redis, url = redis_child(settings.data_dir)
                redis.start()
                children.append(redis)
                overrides["SHERA_REDIS_URL"] = url
            if not settings.registry:
                overrides.update(_start_registry(settings, children))
            if public_url:
                overrides["SHERA_PUBLIC_URL"] = public_url
            settings = _settings(
                data_dir,
                redis_url=overrides.get("SHERA_REDIS_URL"),
                public_url=public_url,
                registry=overrides.get("SHERA_REGISTRY"),
                insecure_registries=overrides.get("SHERA_INSECURE_REGISTRIES"),
            )
            _migrate(settings)
            exposure = _start_exposure(settings, overrides)
            worker_log = settings.data_dir / "logs" / "worker.log"
            worker_child = Child(
                "shera worker",
                [sys.executable, "-m", "shera", "worker"],
                ready=_said(worker_log, WORKER_READY),
                log_path=worker_log,
                env={**os.environ, **overrides},
                stop_grace=15.0,
                start_timeout=120.0,
            )
            worker_child.start()
            children.append(worker_child)
            _serve_api(settings, host, port, announce=True, migrate=False)
        except SheraError as exc:
            raise _fail(exc) from exc
        finally:
            for child in reversed(children):
                child.stop()
            _stop_exposure(exposure)


def _said(log: Path, line_start: str) -> Callable[[], bool]:
    """Whether ``log`` got a line starting with ``line_start`` after now (it may hold earlier starts)."""
    offset = log.stat().st_size if log.exists() else 0

    def ready() -> bool:
        try:
            with log.open("rb") as text:
                text.seek(offset)
                return any(line.startswith(line_start.encode()) for line in text)
        except OSError:
            return False

    return ready


def _start_registry(settings: Settings, children: list[Child]) -> dict[str, str]:
    """``SHERA_REGISTRY`` is unset: start the private registry child; returns the variables that point the
    worker (and this process) at it, over plain HTTP. Without ``docker-registry`` installed, says so and
    goes on without a default registry (builds that push then need ``with.repository`` naming one)."""
    registry, address = registry_child(settings.data_dir)
    try:
        registry.start()
    except ConfigError as exc:
        typer.echo(f"shera: no private registry: {exc}; set SHERA_REGISTRY to push images", err=True)
        return {}
    children.append(registry)
    typer.echo(f"Private registry at {address}")
    insecure = ",".join(sorted(settings.insecure_registry_set | {address}))
    return {"SHERA_REGISTRY": address, "SHERA_INSECURE_REGISTRIES": insecure}


def _default_public_url(host: str, port: int) -> str | None:
    """``http://HOST:PORT`` unless SHERA_PUBLIC_URL says where users and forges reach the API."""
    return None if os.environ.get("SHERA_PUBLIC_URL") else f"http://{host}:{port}"


def _migrate(settings: Settings) -> None:
    """``shera migrate`` in a child process: the migration tooling (Alembic, Mako, the revision scripts,
    ~11 MB resident) then never stays in the long-running API process. ``ConfigError`` with its output
    when it fails."""
    argv = [sys.executable, "-m", "shera", "migrate", "--data-dir", str(settings.data_dir)]
    env = {**os.environ, "SHERA_DATABASE_URL": settings.effective_database_url}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().removeprefix("shera: ")
        raise ConfigError(f"cannot migrate the database: {detail}")


def _serve_api(settings: Settings, host: str, port: int, *, announce: bool, migrate: bool = True) -> None:
    """The API in this process, with the reaper and reconciler beside it.

    The outbox relays run in the workers: each run the API creates pokes them through Redis
    (``queue.wakeup.RelayWaker``), so a webhook reaches a worker without waiting for a poll and the API
    spends no time sending; the reaper here still ends the runs of a worker that was killed when no other
    worker is left (a worker that starts later sends what was requeued).
    """
    import uvicorn

    from shera.api.app import create_app
    from shera.queue.broker import close, make_broker
    from shera.queue.loops import start_loops
    from shera.queue.wakeup import RelayWaker, WakingRedisBroker
    from shera.store.db import Database

    if migrate:
        _migrate(settings)
    db = Database(settings.effective_database_url)
    broker = make_broker(settings)
    loops = start_loops(db, settings, broker, relay=False)
    waker = RelayWaker(broker.relay_wake) if isinstance(broker, WakingRedisBroker) else None
    config = uvicorn.Config(
        create_app(settings, db, on_run_created=lambda _run_id: waker.poke() if waker else None),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    _freeze_heap()
    if announce:
        threading.Thread(target=_announce, args=(server, host), daemon=True).start()
    try:
        server.run()
    finally:
        if waker is not None:
            waker.close()
        loops.stop()
        close(broker)
        db.dispose()


def _freeze_heap() -> None:
    """Move everything allocated so far (modules, app, ORM mappings: long-lived) out of the garbage
    collector's reach. Otherwise each full collection walks those objects again; under a webhook flood
    those pauses were most of the API's p99 latency."""
    gc.collect()
    gc.freeze()


def _announce(server: object, host: str) -> None:
    """Print the URL once uvicorn listens (``server.started``), so scripts can wait for this line."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not getattr(server, "started", False):
        time.sleep(0.02)
    servers = getattr(server, "servers", [])
    sockets = [sock for srv in servers for sock in getattr(srv, "sockets", [])]
    port = sockets[0].getsockname()[1] if sockets else 0
    if port and port_answers(host, port):
        typer.echo(f"She-Ra is up at http://{host}:{port}", err=False)
        sys.stdout.flush()


# -- exposure (issue 6): the private nginx of the public zone and its controller, in the `shera up` process --

_Exposure = tuple[Any, Any]
"""(``contrib.exposure.embedded.Embedded``, its ``Database``), imported lazily (no nginx code otherwise)."""


def _start_exposure(settings: Settings, overrides: dict[str, str]) -> _Exposure | None:
    """Start the embedded balancer and controller; the worker child learns its address through
    ``SHERA_EXPOSE_LISTEN`` (its ``uses: expose`` steps print URLs on it). Without nginx: said, skipped."""
    from shera.cli.expose_cmd import start_embedded

    try:
        embedded, db = start_embedded(settings)
    except SheraError as exc:
        typer.echo(f"shera: no private balancer: {exc}", err=True)
        return None
    overrides["SHERA_EXPOSE_LISTEN"] = embedded.addresses["public"]
    typer.echo(f"Exposed apps at {embedded.url()}")
    return embedded, db


def _stop_exposure(exposure: _Exposure | None) -> None:
    if exposure is not None:
        embedded, db = exposure
        embedded.close(stop_balancers=True)
        db.dispose()
