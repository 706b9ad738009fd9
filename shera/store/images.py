"""Store layer: the image center — pushed image tags per tenant, retention policies and what to prune.

A row is one tag (unique per tenant and repository); pushing the same tag again moves it (upsert: new
digest, run, commit, time, and it is live again). Pruning is two steps: ``plan_prune`` decides from the
rows alone (keep the newest ``keep_per_branch`` images — distinct digests — of each branch of a project,
and never a ``protected`` digest); the caller deletes from the registry and then ``mark_deleted``.
Reads for the API always take the caller's ``tenant_id``; the ``*_any`` functions are for workers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from shera.model.records import ImageRecord, RetentionRecord
from shera.store.convert import aware, maybe_aware
from shera.store.db import Database, StoreError
from shera.store.errors import NotFound
from shera.store.models import Image, Project, RetentionPolicy, utcnow

DEFAULT_KEEP_PER_BRANCH = 10


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    """One repository of a tenant: where it lives, its live tags, and when a tag was last pushed."""

    repository: str
    registry_host: str
    project_id: str | None
    tags: int
    last_pushed_at: datetime


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """Rows to forget (``remove``), rows kept, and the (registry_host, repository, digest) manifests to
    delete from the registry: those of removed rows that no live row outside ``remove`` still uses."""

    remove: tuple[ImageRecord, ...]
    keep: tuple[ImageRecord, ...]
    delete: tuple[tuple[str, str, str], ...]


def _record(row: Image) -> ImageRecord:
    return ImageRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        project_id=row.project_id,
        registry_host=row.registry_host,
        repository=row.repository,
        tag=row.tag,
        digest=row.digest,
        size=row.size,
        run_id=row.run_id,
        step=row.step,
        sha=row.sha,
        branch=row.branch,
        created_at=aware(row.created_at),
        deleted_at=maybe_aware(row.deleted_at),
    )


def record_image(
    db: Database,
    *,
    tenant_id: str,
    project_id: str | None,
    registry_host: str,
    repository: str,
    tag: str,
    digest: str,
    size: int | None,
    run_id: str | None,
    step: str | None,
    sha: str | None,
    branch: str | None,
) -> ImageRecord:
    """Record a pushed tag: insert, or move the tenant's existing (repository, tag) row to this push."""
    values: dict[str, Any] = {
        "project_id": project_id,
        "registry_host": registry_host,
        "digest": digest,
        "size": size,
        "run_id": run_id,
        "step": step,
        "sha": sha,
        "branch": branch,
    }
    for attempt in range(2):
        try:
            with db.transaction() as session:
                row = session.scalars(
                    select(Image).where(
                        Image.tenant_id == tenant_id, Image.repository == repository, Image.tag == tag
                    )
                ).first()
                if row is None:
                    row = Image(tenant_id=tenant_id, repository=repository, tag=tag)
                    session.add(row)
                for key, value in values.items():
                    setattr(row, key, value)
                row.created_at = utcnow()
                row.deleted_at = None
                session.flush()
                return _record(row)
        except StoreError:
            if attempt:  # a concurrent insert of the same tag won the unique constraint: update it instead
                raise
    raise AssertionError("unreachable")


def list_repositories(db: Database, tenant_id: str, q: str | None = None) -> list[RepositorySummary]:
    """The tenant's repositories with live tags, by name; ``q`` filters by a case-insensitive substring."""
    query = (
        select(
            Image.repository,
            func.min(Image.registry_host),
            func.min(Image.project_id),
            func.count(Image.id),
            func.max(Image.created_at),
        )
        .where(Image.tenant_id == tenant_id, Image.deleted_at.is_(None))
        .group_by(Image.repository)
        .order_by(Image.repository)
    )
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Image.repository).like(f"%{escaped}%", escape="\\"))
    with db.transaction() as session:
        return [
            RepositorySummary(repo, host, project, int(count), aware(last))
            for repo, host, project, count, last in session.execute(query)
        ]


def list_tags(db: Database, tenant_id: str, repository: str) -> list[ImageRecord]:
    """Live tags of the tenant's repository, newest first; ``NotFound`` when the tenant has none there."""
    with db.transaction() as session:
        rows = session.scalars(
            select(Image)
            .where(
                Image.tenant_id == tenant_id,
                Image.repository == repository,
                Image.deleted_at.is_(None),
            )
            .order_by(Image.created_at.desc(), Image.tag)
        ).all()
        if not rows:
            raise NotFound("repository not found")
        return [_record(row) for row in rows]


def _owned_project(session: Any, project_id: str, tenant_id: str) -> None:
    row = session.get(Project, project_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("project not found")


def _policy(row: RetentionPolicy | None, project_id: str, tenant_id: str) -> RetentionRecord:
    if row is None:
        return RetentionRecord(project_id, tenant_id, DEFAULT_KEEP_PER_BRANCH, None)
    return RetentionRecord(project_id, tenant_id, row.keep_per_branch, aware(row.updated_at))


def get_retention(db: Database, project_id: str, tenant_id: str) -> RetentionRecord:
    """The project's policy (the default when none was set); ``NotFound`` for another tenant's project."""
    with db.transaction() as session:
        _owned_project(session, project_id, tenant_id)
        return _policy(session.get(RetentionPolicy, project_id), project_id, tenant_id)


def set_retention(db: Database, project_id: str, tenant_id: str, keep_per_branch: int) -> RetentionRecord:
    if keep_per_branch < 1:
        raise ValueError("keep_per_branch must be at least 1")
    with db.transaction() as session:
        _owned_project(session, project_id, tenant_id)
        row = session.get(RetentionPolicy, project_id)
        if row is None:
            row = RetentionPolicy(project_id=project_id, tenant_id=tenant_id)
            session.add(row)
        row.keep_per_branch = keep_per_branch
        row.updated_at = utcnow()
        session.flush()
        return _policy(row, project_id, tenant_id)


def retention_targets_any(db: Database) -> list[RetentionRecord]:
    """Worker: the policy (or default) of every project that has live images."""
    with db.transaction() as session:
        pairs = session.execute(
            select(Image.project_id, Image.tenant_id)
            .where(Image.deleted_at.is_(None), Image.project_id.is_not(None))
            .distinct()
        ).all()
        policies = {
            row.project_id: row
            for row in session.scalars(
                select(RetentionPolicy).where(RetentionPolicy.project_id.in_([p for p, _ in pairs]))
            )
        }
        return [_policy(policies.get(p), p, t) for p, t in sorted(pairs) if p is not None]


def choose_kept(
    images: Iterable[ImageRecord], keep_per_branch: int, protected: frozenset[str] = frozenset()
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """(keep, remove) of one project's live rows: per branch (``None`` — tag builds — is a branch of its
    own) the rows of the newest ``keep_per_branch`` digests are kept, by their newest push; rows of a
    ``protected`` digest are always kept. Pure."""
    by_branch: dict[str | None, list[ImageRecord]] = defaultdict(list)
    for image in images:
        by_branch[image.branch].append(image)
    keep: list[ImageRecord] = []
    remove: list[ImageRecord] = []
    for rows in by_branch.values():
        newest: dict[str, tuple[datetime, str]] = {}
        for row in rows:
            newest[row.digest] = max(
                newest.get(row.digest, (row.created_at, row.id)), (row.created_at, row.id)
            )
        ranked = sorted(newest, key=lambda digest: newest[digest], reverse=True)
        kept = set(ranked[:keep_per_branch]) | (set(ranked) & protected)
        for row in rows:
            (keep if row.digest in kept else remove).append(row)
    return keep, remove


def plan_prune(
    db: Database,
    project_id: str,
    tenant_id: str,
    *,
    keep_per_branch: int,
    protected: frozenset[str] = frozenset(),
) -> PrunePlan:
    """What retention would prune in the project now (see ``choose_kept``); ``NotFound`` for another
    tenant's project. A digest is deleted from the registry only when no other live row — of any
    project or tenant, in the same registry repository — still uses it."""
    with db.transaction() as session:
        _owned_project(session, project_id, tenant_id)
        rows = session.scalars(
            select(Image).where(Image.project_id == project_id, Image.deleted_at.is_(None))
        ).all()
        keep, remove = choose_kept([_record(row) for row in rows], keep_per_branch, protected)
        removed_ids = {image.id for image in remove}
        candidates = sorted({(i.registry_host, i.repository, i.digest) for i in remove})
        delete = tuple(c for c in candidates if not _in_use(session, *c, excluding=removed_ids))
        return PrunePlan(tuple(remove), tuple(keep), delete)


def _in_use(session: Any, host: str, repository: str, digest: str, *, excluding: set[str]) -> bool:
    ids = session.scalars(
        select(Image.id).where(
            Image.registry_host == host,
            Image.repository == repository,
            Image.digest == digest,
            Image.deleted_at.is_(None),
        )
    ).all()
    return any(image_id not in excluding for image_id in ids)


def digest_in_use(
    db: Database, registry_host: str, repository: str, digest: str, *, excluding: Iterable[str] = ()
) -> bool:
    """Whether a live row outside ``excluding`` (ids) uses the digest — checked again right before a
    registry delete, since a push may have re-tagged the digest after the plan was made."""
    with db.transaction() as session:
        return _in_use(session, registry_host, repository, digest, excluding=set(excluding))


def mark_deleted(db: Database, images: Sequence[ImageRecord]) -> int:
    """Mark the rows pruned (``deleted_at`` now), skipping any pushed again since it was read (another
    digest or a newer push time); returns how many were marked."""
    if not images:
        return 0
    planned = {image.id: image for image in images}
    marked = 0
    with db.transaction() as session:
        rows = session.scalars(
            select(Image).where(Image.id.in_(list(planned)), Image.deleted_at.is_(None))
        ).all()
        for row in rows:
            seen = planned[row.id]
            if row.digest == seen.digest and aware(row.created_at) == seen.created_at:
                row.deleted_at = utcnow()
                marked += 1
    return marked
