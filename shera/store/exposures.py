"""Store layer: exposures (apps published through a balancer) and the per-zone balancer state.

An exposure is unique by (zone, host, path) across all tenants: registering the same triple again from the
same tenant updates it (idempotent ``uses: expose``); from another tenant it is a ``Conflict`` (a host
cannot be taken over). Tenant reads take ``tenant_id`` (another tenant's exposure reads as absent); the
controller lists every tenant's exposures with ``tenant_id=None``.

``BalancerState`` is keyed by (zone, kind): the config version serving now, that config's text, how the
last apply went, and the upstreams per exposure id (``{exposure_id: [{"host", "port"}]}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from shera.store.convert import aware, maybe_aware
from shera.store.db import Database, StoreError
from shera.store.errors import Conflict
from shera.store.models import BalancerState, Exposure, utcnow

_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ExposureRecord:
    """One exposure; see ``store.models.Exposure``. ``port`` None means the app's only port."""

    id: str
    tenant_id: str
    app: str
    environment: str
    zone: str
    host: str
    path: str
    port: int | None
    tls_cert: str | None
    tls_key: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class BalancerStateRecord:
    """What one zone's balancer serves; ``upstreams`` maps exposure ids to ``[{"host", "port"}]``."""

    zone: str
    kind: str
    version: str | None
    config: str | None
    last_result: str | None
    last_reload_at: datetime | None
    upstreams: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewExposure:
    tenant_id: str
    app: str
    environment: str
    zone: str
    host: str
    path: str = "/"
    port: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None


def _record(row: Exposure) -> ExposureRecord:
    return ExposureRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        app=row.app,
        environment=row.environment,
        zone=row.zone,
        host=row.host,
        path=row.path,
        port=row.port,
        tls_cert=row.tls_cert,
        tls_key=row.tls_key,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


def _state(row: BalancerState) -> BalancerStateRecord:
    return BalancerStateRecord(
        zone=row.zone,
        kind=row.kind,
        version=row.version,
        config=row.config,
        last_result=row.last_result,
        last_reload_at=maybe_aware(row.last_reload_at),
        upstreams=dict(row.upstreams or {}),
    )


def save_exposure(db: Database, new: NewExposure) -> tuple[ExposureRecord, bool]:
    """Insert ``new`` or update the tenant's exposure of the same (zone, host, path); ``(record, created)``.
    ``Conflict`` when another tenant holds that (zone, host, path)."""
    for _attempt in range(_ATTEMPTS):
        try:
            with db.transaction() as session:
                row = session.scalar(
                    select(Exposure).where(
                        Exposure.zone == new.zone, Exposure.host == new.host, Exposure.path == new.path
                    )
                )
                created = row is None
                if row is None:
                    row = Exposure(
                        tenant_id=new.tenant_id,
                        zone=new.zone,
                        host=new.host,
                        path=new.path,
                        created_at=utcnow(),
                    )
                    session.add(row)
                elif row.tenant_id != new.tenant_id:
                    raise Conflict(f"{new.host}{new.path} in zone {new.zone} is exposed by another tenant")
                row.app, row.environment, row.port = new.app, new.environment, new.port
                row.tls_cert, row.tls_key = new.tls_cert, new.tls_key
                row.updated_at = utcnow()
                session.flush()
                return _record(row), created
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
    raise Conflict(f"{new.host}{new.path} in zone {new.zone}: too many concurrent registrations")


def list_exposures(
    db: Database, tenant_id: str | None, *, zone: str | None = None, app: str | None = None
) -> list[ExposureRecord]:
    """The exposures of ``tenant_id`` (None: of every tenant, for the controller), by zone, host, path."""
    query = select(Exposure)
    if tenant_id is not None:
        query = query.where(Exposure.tenant_id == tenant_id)
    if zone is not None:
        query = query.where(Exposure.zone == zone)
    if app is not None:
        query = query.where(Exposure.app == app)
    with db.read() as session:
        rows = session.scalars(query.order_by(Exposure.zone, Exposure.host, Exposure.path)).all()
        return [_record(row) for row in rows]


def get_exposure(db: Database, exposure_id: str, tenant_id: str | None) -> ExposureRecord | None:
    with db.read() as session:
        row = session.get(Exposure, exposure_id)
        if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
            return None
        return _record(row)


def delete_exposure(db: Database, exposure_id: str, tenant_id: str) -> bool:
    """Remove the tenant's exposure; False when it has none of that id."""
    with db.transaction() as session:
        result = session.execute(
            delete(Exposure).where(Exposure.id == exposure_id, Exposure.tenant_id == tenant_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def save_balancer_state(
    db: Database,
    zone: str,
    kind: str,
    *,
    version: str | None,
    config: str | None,
    last_result: str,
    upstreams: Mapping[str, Sequence[Mapping[str, Any]]],
    reloaded: bool,
) -> BalancerStateRecord:
    """Record the outcome of one apply of ``zone``'s config; ``reloaded`` sets ``last_reload_at`` to now."""
    for _attempt in range(_ATTEMPTS):
        try:
            with db.transaction() as session:
                row = session.get(BalancerState, (zone, kind))
                if row is None:
                    row = BalancerState(zone=zone, kind=kind)
                    session.add(row)
                row.version, row.config, row.last_result = version, config, last_result
                row.upstreams = {key: [dict(item) for item in items] for key, items in upstreams.items()}
                if reloaded:
                    row.last_reload_at = utcnow()
                session.flush()
                return _state(row)
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
    raise Conflict(f"balancer state of zone {zone}: too many concurrent writers")


def balancer_states(db: Database, zone: str | None = None) -> list[BalancerStateRecord]:
    """The recorded state of every balancer (of ``zone``), by zone and kind."""
    query = select(BalancerState)
    if zone is not None:
        query = query.where(BalancerState.zone == zone)
    with db.read() as session:
        rows = session.scalars(query.order_by(BalancerState.zone, BalancerState.kind)).all()
        return [_state(row) for row in rows]
