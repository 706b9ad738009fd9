"""Store layer: tenants, the unit of isolation every other object belongs to."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from shera.model.records import TenantRecord
from shera.store.convert import aware
from shera.store.db import Database, StoreError
from shera.store.errors import Conflict
from shera.store.models import Tenant


def _record(row: Tenant) -> TenantRecord:
    return TenantRecord(id=row.id, name=row.name, created_at=aware(row.created_at))


def create_tenant(db: Database, name: str) -> TenantRecord:
    """A new tenant; ``Conflict`` when the name is taken."""
    try:
        with db.transaction() as session:
            row = Tenant(name=name)
            session.add(row)
            session.flush()
            return _record(row)
    except StoreError as exc:
        if isinstance(exc.__cause__, IntegrityError):
            raise Conflict(f"tenant {name!r} already exists") from exc
        raise


def get_tenant(db: Database, tenant_id: str) -> TenantRecord | None:
    with db.transaction() as session:
        row = session.get(Tenant, tenant_id)
        return _record(row) if row else None


def find_tenant(db: Database, id_or_name: str) -> TenantRecord | None:
    """The tenant whose id or name is ``id_or_name`` (portal JWTs may name either)."""
    with db.transaction() as session:
        row = session.scalars(
            select(Tenant).where(or_(Tenant.id == id_or_name, Tenant.name == id_or_name)).limit(1)
        ).first()
        return _record(row) if row else None


def list_tenants(db: Database) -> list[TenantRecord]:
    with db.transaction() as session:
        return [_record(row) for row in session.scalars(select(Tenant).order_by(Tenant.name))]
