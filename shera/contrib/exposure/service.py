"""Contrib layer (exposure): the exposure verbs — register (or update) and list, with their defaults.

``register`` validates the exposure exactly as the balancer will see it (a ``model.Site`` is built from it,
so a value the renderer would refuse is refused here, at registration, with a located message), fills the
default host ``<app>.<tenant>.<domain>`` (the tenant's name when it is a valid host label, else its id)
and stores it (``store.exposures``: idempotent per (zone, host, path); another tenant's host is a
``Conflict``). ``tls=True`` means the platform certificate, which must be configured.

``list`` joins each exposure with what its zone's balancer serves now (``BalancerState``): the upstreams,
the config version and the last apply result, and the URL users reach it at (``public`` address per zone).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shera.contrib.exposure.errors import InvalidExposure
from shera.contrib.exposure.model import SLUG, Site, Tls, check_hostname, check_slug
from shera.errors import ConfigError
from shera.store import exposures as store
from shera.store import tenants
from shera.store.db import Database


@dataclass(frozen=True, slots=True)
class ExposeRequest:
    """What ``uses: expose`` (or an API call) asks for; None fields take the defaults."""

    tenant_id: str
    app: str
    environment: str
    zone: str = "public"
    host: str | None = None
    path: str = "/"
    port: int | None = None
    tls: bool | Tls = False


@dataclass(frozen=True, slots=True)
class ExposureView:
    """An exposure with what serves it now."""

    exposure: store.ExposureRecord
    url: str
    upstreams: tuple[str, ...] = ()
    version: str | None = None
    last_result: str | None = None
    kinds: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        e = self.exposure
        return {
            "id": e.id,
            "app": e.app,
            "environment": e.environment,
            "zone": e.zone,
            "host": e.host,
            "path": e.path,
            "port": e.port,
            "tls": e.tls_cert is not None,
            "url": self.url,
            "upstreams": list(self.upstreams),
            "version": self.version,
            "last_result": self.last_result,
        }


def url_of(host: str, path: str, *, tls: bool, address: str | None) -> str:
    """``http(s)://host[:port]path``; the port is the one of ``address`` (``IP:PORT``) unless standard."""
    scheme = "https" if tls else "http"
    port = address.rsplit(":", 1)[1] if address else ""
    default = "443" if tls else "80"
    return f"{scheme}://{host}{'' if port in ('', default) else ':' + port}{path}"


class ExposureService:
    """Register and list exposures over ``db``; see the module docstring. Thread-safe (stateless)."""

    def __init__(
        self,
        db: Database,
        *,
        domain: str = "localhost",
        platform_tls: Tls | None = None,
        addresses: Mapping[str, str] | None = None,
        tls_addresses: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.domain = check_hostname("expose domain", domain)
        self.platform_tls = platform_tls
        self.addresses = dict(addresses or {})
        self.tls_addresses = dict(tls_addresses or {})

    def default_host(self, tenant_id: str, app: str) -> str:
        tenant = tenants.get_tenant(self.db, tenant_id)
        name = tenant.name.lower() if tenant is not None else tenant_id
        label = name if SLUG.match(name) else tenant_id
        return check_hostname("host", f"{check_slug('app', app)}.{label}.{self.domain}")

    def register(self, request: ExposeRequest) -> tuple[store.ExposureRecord, bool]:
        """Validate and store; ``(record, created)``. ``InvalidExposure`` (a ``ConfigError``) when a value
        may not reach a config, ``Conflict`` when another tenant holds the host and path."""
        tls: Tls | None = None
        if request.tls is True:
            if self.platform_tls is None:
                raise ConfigError(
                    "tls: true needs the platform certificate (settings expose_tls_cert and expose_tls_key); "
                    "or give tls: {cert, key}"
                )
            tls = self.platform_tls
        elif isinstance(request.tls, Tls):
            tls = request.tls
        host = request.host or self.default_host(request.tenant_id, request.app)
        site = Site(
            tenant=check_slug("tenant", request.tenant_id),
            app=request.app,
            environment=request.environment,
            host=host,
            path=request.path,
            tls=tls,
            zone=request.zone,
        )
        if request.port is not None and not 1 <= request.port <= 65535:
            raise InvalidExposure(f"port: {request.port!r} is not a port number (1-65535)")
        new = store.NewExposure(
            tenant_id=request.tenant_id,
            app=site.app,
            environment=site.environment,
            zone=site.zone,
            host=site.host,
            path=site.path,
            port=request.port,
            tls_cert=tls.cert if tls else None,
            tls_key=tls.key if tls else None,
        )
        return store.save_exposure(self.db, new)

    def list(self, tenant_id: str | None, *, zone: str | None = None) -> list[ExposureView]:
        """The exposures of ``tenant_id`` (None: everyone's) with their balancer state."""
        states = store.balancer_states(self.db, zone)
        views = []
        for exposure in store.list_exposures(self.db, tenant_id, zone=zone):
            mine = [s for s in states if s.zone == exposure.zone]
            upstreams: list[str] = []
            for state in mine:
                for item in state.upstreams.get(exposure.id, []):
                    upstream = f"{item['host']}:{item['port']}"
                    if upstream not in upstreams:
                        upstreams.append(upstream)
            tls = exposure.tls_cert is not None
            address = (self.tls_addresses if tls else self.addresses).get(exposure.zone)
            views.append(
                ExposureView(
                    exposure=exposure,
                    url=url_of(exposure.host, exposure.path, tls=tls, address=address),
                    upstreams=tuple(upstreams),
                    version=mine[0].version if mine else None,
                    last_result=mine[0].last_result if mine else None,
                    kinds=tuple(s.kind for s in mine),
                )
            )
        return views
