"""Contrib layer (exposure): ``ExposureController`` — keeps each zone's balancer in step with where apps run.

One pass (``sync``): every exposure in the store (all tenants) → its endpoints from the source of the
target its latest release went to (``podman``, ``kubernetes``; with one source, that one) → a ``Site`` per
exposure → a ``ZoneConfig`` per zone → rendered for the zone's balancer kind → applied through a
``Debouncer`` (at most one reload per ``min_interval``, nothing when the output is unchanged) → the outcome
recorded as the zone's ``BalancerState`` (version, config text, last result, upstreams per exposure id),
written only when it changed.

Running (``start``/``stop``): a loop thread runs a pass when poked — by a source's ``watch`` (one thread
per source), by ``poke()`` (an in-process caller), or when the exposures in the store changed (looked at
every ``store_poll`` seconds, so a registration made by another process is picked up) — and at the latest
every ``resync_interval`` seconds (the full resync that repairs any missed event).

Failure handling: a source that does not answer (``TemporaryError``) keeps the upstreams that exposure had;
an exposure that cannot be served as configured (``PermanentError``, e.g. no such port) gets no upstreams
(its site answers 503 naming the app) and the reason is logged; an exposure the model refuses is left out.
A pass never raises for one bad exposure; ``sync`` is serialised (one pass at a time).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shera.contrib.exposure.apply import ApplyResult, Balancer, Debouncer
from shera.contrib.exposure.errors import InvalidExposure
from shera.contrib.exposure.model import Site, Tls, Upstream, ZoneConfig
from shera.contrib.exposure.render import Rendered, render_haproxy, render_nginx
from shera.contrib.exposure.sources import EndpointSource
from shera.errors import PermanentError, SheraError, TemporaryError
from shera.store import exposures as store
from shera.store import releases
from shera.store.db import Database

log = logging.getLogger(__name__)

RENDERERS: dict[str, Callable[[ZoneConfig], Rendered]] = {"nginx": render_nginx, "haproxy": render_haproxy}


@dataclass(frozen=True, slots=True)
class Listen:
    """Where one zone's balancer listens: ``IP:PORT`` for HTTP and, when TLS sites exist, for HTTPS."""

    address: str
    tls: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneOutcome:
    zone: str
    version: str | None
    result: str
    ok: bool
    upstreams: Mapping[str, tuple[Upstream, ...]]


class ExposureController:
    """See the module docstring. ``balancers`` maps zone names to the balancer serving that zone,
    ``listen`` maps them to the balancer's addresses."""

    def __init__(
        self,
        db: Database,
        sources: Mapping[str, EndpointSource],
        balancers: Mapping[str, Balancer],
        *,
        listen: Mapping[str, Listen],
        resync_interval: float = 30.0,
        store_poll: float = 0.5,
        min_interval: float = 0.2,
    ) -> None:
        missing = sorted(set(balancers) - set(listen))
        if missing:
            raise PermanentError(f"no listen address for the balancer of zone {', '.join(missing)}")
        self.db = db
        self.sources = dict(sources)
        self.balancers = dict(balancers)
        self.listen = dict(listen)
        self.resync_interval = resync_interval
        self.store_poll = store_poll
        self._debouncers = {zone: Debouncer(b, min_interval) for zone, b in self.balancers.items()}
        self._known: dict[str, tuple[Upstream, ...]] = {}
        self._recorded: dict[str, tuple[str | None, str, object]] = {}
        self._sync_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.passes = 0

    # -- one pass -------------------------------------------------------------------------------------

    def _source_for(self, exposure: store.ExposureRecord) -> EndpointSource | None:
        release = releases.latest_release(self.db, exposure.tenant_id, exposure.app, exposure.environment)
        if release is not None and release.target in self.sources:
            return self.sources[release.target]
        if len(self.sources) == 1:
            return next(iter(self.sources.values()))
        return None

    def _upstreams(self, exposure: store.ExposureRecord) -> tuple[Upstream, ...]:
        source = self._source_for(exposure)
        if source is None:
            return ()
        try:
            found = source.endpoints(exposure.tenant_id, exposure.app, exposure.environment, exposure.port)
        except TemporaryError as exc:
            log.warning("exposure %s: %s; keeping its upstreams", exposure.host, exc)
            return self._known.get(exposure.id, ())
        except SheraError as exc:
            log.warning("exposure %s%s: %s", exposure.host, exposure.path, exc)
            found = ()
        self._known[exposure.id] = found
        return found

    def sites(self) -> dict[str, list[tuple[store.ExposureRecord, Site]]]:
        """The sites of every zone, from the store and the sources now."""
        by_zone: dict[str, list[tuple[store.ExposureRecord, Site]]] = {zone: [] for zone in self.balancers}
        for exposure in store.list_exposures(self.db, None):
            if exposure.zone not in by_zone:
                continue
            try:
                tls = (
                    Tls(exposure.tls_cert, exposure.tls_key)
                    if exposure.tls_cert and exposure.tls_key
                    else None
                )
                site = Site(
                    tenant=exposure.tenant_id,
                    app=exposure.app,
                    environment=exposure.environment,
                    host=exposure.host,
                    path=exposure.path,
                    upstreams=self._upstreams(exposure),
                    tls=tls,
                    zone=exposure.zone,
                )
            except InvalidExposure as exc:
                log.error("exposure %s left out of the balancer: %s", exposure.id, exc)
                continue
            by_zone[exposure.zone].append((exposure, site))
        return by_zone

    def sync(self, timeout: float = 30.0) -> dict[str, ZoneOutcome]:
        """One pass over every zone (see the module docstring); what each zone serves afterwards."""
        with self._sync_lock:
            self.passes += 1
            outcomes = {}
            for zone, pairs in self.sites().items():
                outcomes[zone] = self._apply_zone(zone, pairs, timeout)
            return outcomes

    def _apply_zone(
        self, zone: str, pairs: list[tuple[store.ExposureRecord, Site]], timeout: float
    ) -> ZoneOutcome:
        balancer, listen = self.balancers[zone], self.listen[zone]
        upstreams = {exposure.id: site.upstreams for exposure, site in pairs}
        try:
            config = ZoneConfig(zone, listen.address, tuple(s for _, s in pairs), tls_listen=listen.tls)
            rendered = RENDERERS[balancer.kind](config)
        except InvalidExposure as exc:  # e.g. TLS sites without a TLS listener: nothing new is applied
            result = ApplyResult(False, balancer.current_version(), str(exc), False)
            return self._record(zone, balancer.kind, None, result, upstreams)
        debouncer = self._debouncers[zone]
        before = debouncer.last_result
        debouncer.submit(rendered)
        applied = debouncer.flush(timeout)
        if applied is None or applied is before:  # nothing applied: the output equals what serves
            applied = ApplyResult(True, rendered.version, "unchanged", False, rendered.version)
        return self._record(zone, balancer.kind, rendered, applied, upstreams)

    def _record(
        self,
        zone: str,
        kind: str,
        rendered: Rendered | None,
        result: ApplyResult,
        upstreams: Mapping[str, tuple[Upstream, ...]],
    ) -> ZoneOutcome:
        text = ("ok: " if result.ok else "failed: ") + result.message
        as_json = {key: [{"host": u.host, "port": u.port} for u in ups] for key, ups in upstreams.items()}
        config = rendered.text if rendered is not None and result.ok else None
        state = (result.version, text, as_json)
        if self._recorded.get(zone) != state:
            if config is None:  # keep the config text that serves
                old = [s for s in store.balancer_states(self.db, zone) if s.kind == kind]
                config = old[0].config if old else None
            store.save_balancer_state(
                self.db,
                zone,
                kind,
                version=result.version,
                config=config,
                last_result=text,
                upstreams=as_json,
                reloaded=result.reloaded,
            )
            self._recorded[zone] = state
        return ZoneOutcome(zone, result.version, text, result.ok, dict(upstreams))

    # -- running --------------------------------------------------------------------------------------

    def poke(self) -> None:
        """Ask for a pass soon (thread-safe, cheap: what the sources' watches call)."""
        self._wake.set()

    def _fingerprint(self) -> tuple[tuple[str, str], ...]:
        return tuple((e.id, e.updated_at.isoformat()) for e in store.list_exposures(self.db, None))

    def _loop(self) -> None:
        seen: tuple[tuple[str, str], ...] | None = None
        waited = self.resync_interval  # the first pass runs at once
        while not self._stop.is_set():
            now: tuple[tuple[str, str], ...] | None = seen
            try:
                now = self._fingerprint()
            except SheraError as exc:
                log.warning("exposure controller: the store did not answer: %s", exc)
            if self._wake.is_set() or now != seen or waited >= self.resync_interval:
                self._wake.clear()
                seen, waited = now, 0.0
                try:
                    self.sync()
                except Exception:  # the loop keeps the balancer in step; it must not die of one pass
                    log.exception("exposure controller pass failed")
            if self._wake.wait(self.store_poll):
                continue
            waited += self.store_poll

    def start(self) -> None:
        """Start the loop and one watch thread per source (daemon threads); idempotent."""
        if self._threads:
            return
        for name, source in self.sources.items():
            thread = threading.Thread(
                target=source.watch, args=(self.poke, self._stop), name=f"shera-expose-{name}", daemon=True
            )
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._loop, name="shera-expose-controller", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads and the debouncers (pending configs are applied first); idempotent. The
        balancers keep running: stopping them is their owner's decision."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        for debouncer in self._debouncers.values():
            debouncer.close(timeout)
