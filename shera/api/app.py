"""API layer: the FastAPI application — routes, auth, error mapping and metrics wired to one database.

``create_app(settings, db)`` builds everything explicitly (no import-time globals): the forge adapters from
entry points, the known executors, the git mirrors, a Prometheus registry of its own. It stores the bootstrap
token (idempotent) when the app starts. She-Ra's errors map to statuses here, with the error's message as
``detail`` and never a traceback: NotFound 404, Conflict 409, other permanent errors (bad input) 422, store
errors 500, temporary errors (database or git remote down) 503.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shera.api.auth import Authenticator, bootstrap
from shera.api.errors import STATUSES, answer
from shera.api.hookprojects import HookProjects
from shera.api.metrics import Metrics, MetricsMiddleware
from shera.api.routes import (
    apps,
    exposures,
    health,
    hooks,
    images,
    logs,
    projects,
    runs,
    secrets,
    templates,
    tenants,
)
from shera.forges.base import FORGES, load_forges
from shera.gitops.mirror import Mirrors
from shera.plugins import EXECUTORS, Registry
from shera.settings import Settings
from shera.store.db import Database
from shera.store.stats import runs_by_status

log = logging.getLogger(__name__)


def _handler(status_code: int, *, hide: bool = False) -> object:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        code, body = answer(exc, status_code, hide=hide)
        return JSONResponse(body, status_code=code)

    return handle


def create_app(
    settings: Settings,
    db: Database,
    *,
    registry: Registry | None = None,
    log_poll_seconds: float = 0.2,
    on_run_created: Callable[[str], None] | None = None,
) -> FastAPI:
    """The API app for ``db``; the caller owns ``db`` (migrates it before, disposes it after).

    ``registry`` supplies the forges and executors (default: the ``shera.forges`` and ``shera.executors``
    entry points); ``log_poll_seconds`` is how often live log streams look for new chunks;
    ``on_run_created(run_id)`` is called after a run was committed (the server wakes the workers' outbox
    relays so the run reaches a worker at once instead of at a relay's next poll). It must not block or raise.
    """
    registry = registry or Registry.from_entry_points((FORGES, EXECUTORS))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(bootstrap, settings, db)
        yield

    app = FastAPI(
        title="She-Ra",
        version="1",
        summary="GitOps CI/CD engine: webhooks, durable runs, multi-tenant REST API",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.authenticator = Authenticator(settings, db)
    app.state.forges = load_forges(registry)
    app.state.executors = frozenset(registry.names(EXECUTORS))
    app.state.mirrors = Mirrors(settings.data_dir / "mirrors", settings.allowed_git_schemes, timeout=120.0)
    app.state.log_poll_seconds = log_poll_seconds
    app.state.run_created = on_run_created or (lambda _run_id: None)
    app.state.hook_projects = HookProjects(db)
    app.state.metrics = Metrics(lambda: runs_by_status(db))

    for router in (
        health.router,
        hooks.router,
        tenants.router,
        projects.router,
        secrets.router,
        runs.router,
        logs.router,
        images.router,
        templates.router,
        apps.router,
        exposures.router,
    ):
        app.include_router(router)

    for exc_type, code, hide in STATUSES:
        app.add_exception_handler(exc_type, _handler(code, hide=hide))  # type: ignore[arg-type]
    app.add_middleware(hooks.HookFastPath, state=app.state, route=hooks.webhook_route())
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
