"""Store layer: releases — one row per deployment of (tenant, app, environment), numbered by revision.

Revisions are allocated inside the inserting transaction (previous maximum + 1); the unique constraint
(tenant, app, environment, revision) makes a lost race a retry, never a duplicate. Status changes are
compare-and-set updates. Every read takes ``tenant_id`` (another tenant's app reads as absent); history
queries use the unique index (tenant, app, environment, revision), so 1,000 releases list in milliseconds.

Statuses: ``deploying`` → ``live`` | ``failed`` | ``rolled_back`` (failed, then the previous release was
restored); a live release becomes ``superseded`` when another one goes live or the app is deleted (reason
``deleted``). A failed or rolled-back (app, environment, sha) is quarantined for automatic deploys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from shera.model.records import ReleaseRecord
from shera.store.convert import aware, maybe_aware
from shera.store.db import Database, StoreError
from shera.store.errors import Conflict, NotFound
from shera.store.models import Release, Tenant, utcnow

DEPLOYING, LIVE, FAILED, ROLLED_BACK, SUPERSEDED = "deploying", "live", "failed", "rolled_back", "superseded"
QUARANTINED = (FAILED, ROLLED_BACK)
DELETED_REASON = "deleted"
_INSERT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class NewRelease:
    """What a new release is made of; ``create_release`` sets its revision and status (``deploying``)."""

    tenant_id: str
    app: str
    environment: str
    target: str
    image: str
    project_id: str | None = None
    digest: str | None = None
    sha: str | None = None
    run_id: str | None = None
    replicas: int = 1
    spec: dict[str, Any] = field(default_factory=dict)
    manifests: dict[str, Any] = field(default_factory=dict)
    rollback_of: int | None = None
    forced: bool = False


def _record(row: Release) -> ReleaseRecord:
    return ReleaseRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        project_id=row.project_id,
        app=row.app,
        environment=row.environment,
        revision=row.revision,
        target=row.target,
        image=row.image,
        digest=row.digest,
        sha=row.sha,
        run_id=row.run_id,
        status=row.status,
        reason=row.reason,
        replicas=row.replicas,
        spec=dict(row.spec or {}),
        manifests=dict(row.manifests or {}),
        endpoints=list(row.endpoints or []),
        deploy_commit=row.deploy_commit,
        rollback_of=row.rollback_of,
        forced=row.forced,
        created_at=aware(row.created_at),
        finished_at=maybe_aware(row.finished_at),
    )


def ensure_tenant(db: Database, tenant_id: str) -> None:
    """Create the tenant ``tenant_id`` (named the same) unless it exists: the ``local`` tenant of
    ``shera exec --data-dir`` and the ``--data-dir`` CLI commands, which run without a server."""
    with db.transaction() as session:
        if session.get(Tenant, tenant_id) is None:
            session.add(Tenant(id=tenant_id, name=tenant_id))


def create_release(db: Database, new: NewRelease) -> ReleaseRecord:
    """Insert ``new`` as the next revision of its (tenant, app, environment), status ``deploying``."""
    for _attempt in range(_INSERT_ATTEMPTS):
        try:
            with db.transaction() as session:
                if not db.is_sqlite:
                    # Serialize revision numbering per app and environment on PostgreSQL (SQLite already
                    # has a single writer): concurrent deploys wait here instead of racing for max + 1.
                    key = f"shera-release:{new.tenant_id}:{new.app}:{new.environment}"
                    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
                top = session.scalar(
                    select(func.max(Release.revision)).where(
                        Release.tenant_id == new.tenant_id,
                        Release.app == new.app,
                        Release.environment == new.environment,
                    )
                )
                row = Release(
                    tenant_id=new.tenant_id,
                    project_id=new.project_id,
                    app=new.app,
                    environment=new.environment,
                    revision=(top or 0) + 1,
                    target=new.target,
                    image=new.image,
                    digest=new.digest,
                    sha=new.sha,
                    run_id=new.run_id,
                    status=DEPLOYING,
                    replicas=new.replicas,
                    spec=new.spec,
                    manifests=new.manifests,
                    rollback_of=new.rollback_of,
                    forced=new.forced,
                    endpoints=[],
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                return _record(row)
        except StoreError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
    raise Conflict(
        f"could not allocate a revision for {new.app}/{new.environment}: too many concurrent deploys"
    )


def update_release(
    db: Database,
    release_id: str,
    *,
    status: str | None = None,
    expect: Sequence[str] | None = None,
    reason: str | None = None,
    manifests: Mapping[str, Any] | None = None,
    endpoints: Sequence[Mapping[str, Any]] | None = None,
    deploy_commit: str | None = None,
    replicas: int | None = None,
    spec: Mapping[str, Any] | None = None,
) -> ReleaseRecord:
    """Change the given fields; with ``expect``, only while the status is one of those (else ``Conflict``).
    A new terminal status sets ``finished_at``."""
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
        if status != DEPLOYING:
            values["finished_at"] = utcnow()
    for key, value in (
        ("reason", reason),
        ("deploy_commit", deploy_commit),
        ("replicas", replicas),
    ):
        if value is not None:
            values[key] = value
    if manifests is not None:
        values["manifests"] = dict(manifests)
    if endpoints is not None:
        values["endpoints"] = [dict(item) for item in endpoints]
    if spec is not None:
        values["spec"] = dict(spec)
    with db.transaction() as session:
        query = update(Release).where(Release.id == release_id)
        if expect is not None:
            query = query.where(Release.status.in_(list(expect)))
        if values:
            result = session.execute(query.values(**values))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise Conflict(f"release {release_id} is not in state {', '.join(expect or ())}")
        row = session.get(Release, release_id)
        if row is None:
            raise NotFound("release not found")
        session.refresh(row)
        return _record(row)


def is_deleted(reason: str | None) -> bool:
    return bool(reason) and (reason == DELETED_REASON or str(reason).startswith(DELETED_REASON + ";"))


def mark_deleted(db: Database, tenant_id: str, app: str, environment: str) -> int:
    """The app was removed from its target: live and deploying releases become superseded, and the newest
    release's reason starts with ``deleted`` (so the what-runs-where matrix leaves the pair out)."""
    with db.transaction() as session:
        rows = session.scalars(
            select(Release).where(*_pair(tenant_id, app, environment)).order_by(Release.revision.desc())
        ).all()
        if not rows:
            raise NotFound(f"no app {app!r} in environment {environment!r}")
        changed = 0
        for index, row in enumerate(rows):
            if row.status in (LIVE, DEPLOYING):
                row.status = SUPERSEDED
                row.finished_at = row.finished_at or utcnow()
                changed += 1
            elif index != 0:
                continue
            if not is_deleted(row.reason):
                row.reason = DELETED_REASON if not row.reason else f"{DELETED_REASON}; {row.reason}"
        return changed


def supersede_live(
    db: Database, tenant_id: str, app: str, environment: str, *, keep: int | None, reason: str | None = None
) -> int:
    """Mark every live release of the pair except revision ``keep`` superseded; returns how many."""
    with db.transaction() as session:
        query = update(Release).where(
            Release.tenant_id == tenant_id,
            Release.app == app,
            Release.environment == environment,
            Release.status == LIVE,
        )
        if keep is not None:
            query = query.where(Release.revision != keep)
        values: dict[str, Any] = {"status": SUPERSEDED}
        if reason is not None:
            values["reason"] = reason
        result = session.execute(query.values(**values))
        return int(result.rowcount)  # type: ignore[attr-defined]


def _pair(tenant_id: str, app: str, environment: str) -> list[Any]:
    return [Release.tenant_id == tenant_id, Release.app == app, Release.environment == environment]


def get_release(
    db: Database, tenant_id: str, app: str, environment: str, revision: int
) -> ReleaseRecord | None:
    with db.transaction() as session:
        row = session.scalars(
            select(Release).where(*_pair(tenant_id, app, environment), Release.revision == revision)
        ).first()
        return _record(row) if row else None


def live_release(db: Database, tenant_id: str, app: str, environment: str) -> ReleaseRecord | None:
    """The newest live release of the pair (normally the only one)."""
    with db.transaction() as session:
        row = session.scalars(
            select(Release)
            .where(*_pair(tenant_id, app, environment), Release.status == LIVE)
            .order_by(Release.revision.desc())
            .limit(1)
        ).first()
        return _record(row) if row else None


def latest_release(db: Database, tenant_id: str, app: str, environment: str) -> ReleaseRecord | None:
    with db.transaction() as session:
        row = session.scalars(
            select(Release)
            .where(*_pair(tenant_id, app, environment))
            .order_by(Release.revision.desc())
            .limit(1)
        ).first()
        return _record(row) if row else None


def previous_good(
    db: Database, tenant_id: str, app: str, environment: str, before: int
) -> ReleaseRecord | None:
    """The newest release below revision ``before`` that once served (live or superseded, not deleted)."""
    with db.transaction() as session:
        row = session.scalars(
            select(Release)
            .where(
                *_pair(tenant_id, app, environment),
                Release.revision < before,
                Release.status.in_([LIVE, SUPERSEDED]),
            )
            .order_by(Release.revision.desc())
            .limit(1)
        ).first()
        return _record(row) if row else None


def list_releases(
    db: Database, tenant_id: str, app: str, environment: str, *, limit: int = 100, offset: int = 0
) -> list[ReleaseRecord]:
    """The pair's releases, newest revision first."""
    with db.transaction() as session:
        rows = session.scalars(
            select(Release)
            .where(*_pair(tenant_id, app, environment))
            .order_by(Release.revision.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_record(row) for row in rows]


def is_quarantined(db: Database, tenant_id: str, app: str, environment: str, sha: str) -> bool:
    """True when a release of ``sha`` failed (or was rolled back) on the pair: automatic deploys skip it."""
    with db.transaction() as session:
        found = session.scalar(
            select(Release.id)
            .where(*_pair(tenant_id, app, environment), Release.status.in_(QUARANTINED), Release.sha == sha)
            .limit(1)
        )
        return found is not None


def current_releases(db: Database, tenant_id: str | None) -> list[ReleaseRecord]:
    """What runs where: per (app, environment) the live release, else the newest one; pairs whose newest
    release was deleted are left out. ``tenant_id=None`` spans every tenant (the reconciler only)."""
    with db.transaction() as session:
        scope = [] if tenant_id is None else [Release.tenant_id == tenant_id]
        newest = (
            select(
                Release.tenant_id, Release.app, Release.environment, func.max(Release.revision).label("top")
            )
            .where(*scope)
            .group_by(Release.tenant_id, Release.app, Release.environment)
            .subquery()
        )
        tops = session.scalars(
            select(Release).join(
                newest,
                (Release.tenant_id == newest.c.tenant_id)
                & (Release.app == newest.c.app)
                & (Release.environment == newest.c.environment)
                & (Release.revision == newest.c.top),
            )
        ).all()
        lives = session.scalars(select(Release).where(*scope, Release.status == LIVE)).all()
        chosen: dict[tuple[str, str, str], Release] = {}
        for row in tops:
            if not is_deleted(row.reason):
                chosen[(row.tenant_id, row.app, row.environment)] = row
        for row in lives:
            key = (row.tenant_id, row.app, row.environment)
            if key not in chosen or chosen[key].status != LIVE:
                chosen[key] = row
        return [_record(chosen[key]) for key in sorted(chosen)]
