"""Steps layer: the runner of ``uses: expose`` — registers the exposure and reports the URL it is served at.

``environment`` defaults as for ``uses: deploy``; ``host`` to ``<app>.<tenant>.<domain>``; ``tls: true`` is
the platform certificate. Where it goes (``opener(ctx)``):
- project ``local`` (``shera exec --data-dir D``): D's database, and D's embedded balancer — a private nginx
  under ``D/expose/public`` (started, or adopted when an earlier run left it running) with the exposure
  controller in this process. The step runs a pass at once, so when it ends the URL answers through nginx;
  the controller then follows later deploys of the run, and nginx keeps serving after ``shera exec``
  returns (``shera down --data-dir D`` stops it).
- a server project: the server's database; the always-on controller (``shera up``, ``shera expose run``)
  picks the exposure up from the store. The step waits up to ``wait_s`` for it to be served and says so.
Step result: ``success`` once registered (a site without a serving instance answers 503 until the app is
deployed: said in the log); ``failure`` for an invalid ``with:``, a host another tenant holds, or a config
the balancer refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shera.contrib.exposure.embedded import Embedded, balancer_for
from shera.contrib.exposure.model import Tls
from shera.contrib.exposure.service import ExposeRequest, ExposureService, ExposureView
from shera.errors import ConfigError, SheraError
from shera.executors.base import StepResult
from shera.model.status import Status
from shera.settings import Settings, load_settings
from shera.steps.deploy_runner import environment_for, invalid_with, where
from shera.steps.deploy_wiring import LOCAL_PROJECT, LOCAL_TENANT, local_database
from shera.steps.expose import ExposeWith, TlsFiles
from shera.steps.runner import KindContext, KindResult
from shera.store import projects
from shera.store.db import Database


@dataclass
class Hub:
    """Where one step registers: the service, the tenant, and the in-process embedded exposure if any."""

    service: ExposureService
    tenant: str
    embedded: Embedded | None = None


Opener = Callable[[KindContext], Hub]


def expose_settings(settings: Settings) -> tuple[str, str | None]:
    """``(domain, public listen address)``: ``SHERA_EXPOSE_DOMAIN`` and ``SHERA_EXPOSE_LISTEN``."""
    return settings.expose_domain, settings.expose_listen


def public_addresses(settings: Settings) -> dict[str, str]:
    """Where users reach each zone: the configured listen address, else the address of the embedded
    balancer under the data directory (``shera up``), else nothing (URLs without a port)."""
    listen = expose_settings(settings)[1]
    if not listen:
        url = balancer_for(settings.data_dir, "public").url
        listen = url.removeprefix("http://") if url else None
    return {"public": listen} if listen else {}


class HubOpener:
    """The default ``Opener``: one hub per data directory (and per local/server), built on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hubs: dict[tuple[str, bool], Hub] = {}

    def close(self) -> None:
        """Stop the in-process controllers (their balancers keep serving) and release the databases."""
        with self._lock:
            hubs, self._hubs = list(self._hubs.values()), {}
        for hub in hubs:
            if hub.embedded is not None:
                hub.embedded.close()
            hub.service.db.dispose()

    def __call__(self, ctx: KindContext) -> Hub:
        if ctx.data_dir is None:
            raise ConfigError("exposing needs a data directory (shera exec --data-dir DIR)")
        local = ctx.project == LOCAL_PROJECT
        key = (str(ctx.data_dir.resolve()), local)
        with self._lock:
            hub = self._hubs.get(key)
            if hub is None:
                settings = load_settings(data_dir=ctx.data_dir)
                domain, listen = expose_settings(settings)
                if local:
                    db = local_database(ctx.data_dir.resolve())
                    embedded = Embedded(db, ctx.data_dir.resolve(), listen={"public": listen})
                    embedded.start(at_exit=True)
                    service = ExposureService(db, domain=domain, addresses=embedded.addresses)
                    hub = Hub(service, LOCAL_TENANT, embedded)
                else:
                    db = Database(settings.effective_database_url)
                    service = ExposureService(db, domain=domain, addresses=public_addresses(settings))
                    hub = Hub(service, "")
                self._hubs[key] = hub
        if local:
            return hub
        project = projects.get_project(hub.service.db, ctx.project, None)
        if project is None:
            raise ConfigError(f"project {ctx.project!r} does not exist")
        return Hub(hub.service, project.tenant_id, None)


def _tls(value: bool | TlsFiles) -> bool | Tls:
    return Tls(value.cert, value.key) if isinstance(value, TlsFiles) else bool(value)


class ExposeRunner:
    """``uses: expose``; see the module docstring. Safe to call concurrently."""

    kind = "expose"

    def __init__(self, opener: Opener | None = None, *, wait_s: float = 10.0) -> None:
        self._open = opener or HubOpener()
        self.wait_s = wait_s

    def run(self, ctx: KindContext) -> KindResult:
        try:
            with_ = ExposeWith.model_validate(dict(ctx.step.with_))
        except ValidationError as exc:
            return KindResult(StepResult(Status.FAILURE, 1, error=invalid_with(ctx, exc)))
        try:
            hub = self._open(ctx)
            request = ExposeRequest(
                tenant_id=hub.tenant,
                app=with_.app,
                environment=with_.environment or environment_for(ctx),
                zone=with_.zone,
                host=with_.host,
                path=with_.path,
                port=with_.port,
                tls=_tls(with_.tls),
            )
            record, created = hub.service.register(request)
            ctx.out(
                f"{'registered' if created else 'updated'} {record.host}{record.path} "
                f"({record.zone}) → {record.app} in {record.environment}\n".encode()
            )
            view = self._served(hub, record.id)
        except SheraError as exc:
            return KindResult(StepResult(Status.FAILURE, 1, error=f"{where(ctx)}: {exc}"))
        return self._report(ctx, view)

    def _served(self, hub: Hub, exposure_id: str) -> ExposureView | None:
        """The exposure as served after a pass (in process), or once the controller recorded it."""
        if hub.embedded is not None:
            hub.embedded.controller.sync()
        deadline = time.monotonic() + (0 if hub.embedded is not None else self.wait_s)
        while True:
            views = [v for v in hub.service.list(hub.tenant) if v.exposure.id == exposure_id]
            view = views[0] if views else None
            # served = the balancer's recorded state lists this site's upstreams (a version alone may be the
            # config from before this exposure existed)
            if view is None or view.upstreams or time.monotonic() >= deadline:
                return view
            time.sleep(0.2)

    def _report(self, ctx: KindContext, view: ExposureView | None) -> KindResult:
        if view is None:
            return KindResult(StepResult(Status.FAILURE, 1, error=f"{where(ctx)}: the exposure vanished"))
        data: dict[str, Any] = {"expose": view.as_dict()}
        if view.last_result and view.last_result.startswith("failed"):
            error = f"{where(ctx)}: the balancer refused the config: {view.last_result}"
            return KindResult(StepResult(Status.FAILURE, 1, error=error), data)
        if view.upstreams:
            ctx.out(f"upstreams: {', '.join(view.upstreams)} (config {view.version})\n".encode())
        elif view.version is None:
            ctx.out(b"no balancer has applied it yet: the exposure controller will (shera up / expose run)\n")
        else:
            ctx.out(b"no serving instance yet: the site answers 503 until the app is deployed\n")
        ctx.out(f"URL: {view.url}\n".encode())
        return KindResult(StepResult(Status.SUCCESS, 0), data)
