"""Store layer: the tables. Every tenant-owned row carries ``tenant_id`` so queries can always be scoped.

Ids are opaque strings (``new_id()``) so they cannot be guessed or enumerated across tenants; runs also have a
per-project ``number`` for people. Timestamps are timezone-aware UTC. Changes to these classes need an Alembic
revision under ``shera/store/migrations/versions``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Token(Base):
    """An API token; only its SHA-256 is stored. ``tenant_id`` is NULL for platform-admin tokens."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    forge: Mapped[str] = mapped_column(String(20))
    clone_url: Mapped[str] = mapped_column(String(2048))
    default_branch: Mapped[str] = mapped_column(String(255), default="main")
    executor: Mapped[str] = mapped_column(String(40), default="podman")
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_superseded: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_secret: Mapped[str] = mapped_column(String(128))
    forge_api_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    forge_token: Mapped[str | None] = mapped_column(String(512), default=None)
    next_run_number: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Secret(Base):
    """A project secret: write-only through the API; injected only for the listed events."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One webhook delivery; the unique (project, forge, delivery id) makes redelivery a no-op.

    The project is part of the key because a forge without a delivery header gets the body's hash as id, and
    two projects may receive identical bodies.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("project_id", "forge", "delivery_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    forge: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One pipeline run. ``status`` moves by compare-and-set; a worker holds it through ``lease_*``.

    ``dedupe_key`` is unique: (project, ref, sha) for forge events, so a second delivery of the same push
    cannot create a second run; NULL for manual triggers and restarts.
    """

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        Index("ix_runs_project_branch_status", "project_id", "branch", "status"),
        Index("ix_runs_status_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    event: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(255))
    branch: Mapped[str | None] = mapped_column(String(255), default=None)
    sha: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(255), default="")
    from_fork: Mapped[bool] = mapped_column(Boolean, default=False)
    event_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(400), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    approval: Mapped[str | None] = mapped_column(String(20), default=None)
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)


class Step(Base):
    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("run_id", "workflow", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    workflow: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    exit_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    log_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    log_truncated: Mapped[bool] = mapped_column(Boolean, default=False)


class LogChunk(Base):
    """A piece of a step's (already masked) output, in order of ``seq``."""

    __tablename__ = "log_chunks"
    __table_args__ = (UniqueConstraint("step_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    step_id: Mapped[str] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Outbox(Base):
    """Run ids waiting to be sent to the queue; written in the run's transaction, sent by the relay."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class Image(Base):
    """An image tag She-Ra pushed: which run, commit and step built it, and what the registry stored."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("tenant_id", "repository", "tag"),
        Index("ix_images_project_branch", "project_id", "branch", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    registry_host: Mapped[str] = mapped_column(String(255))
    repository: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    step: Mapped[str | None] = mapped_column(String(255), default=None)
    sha: Mapped[str | None] = mapped_column(String(64), default=None)
    branch: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class RetentionPolicy(Base):
    """Per project: keep the newest ``keep_per_branch`` tags of each branch (live releases always kept)."""

    __tablename__ = "retention_policies"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    keep_per_branch: Mapped[int] = mapped_column(Integer, default=10)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Release(Base):
    """One deployment of (tenant, app, environment): revision → image digest, commit, run, rendered manifests.

    ``status``: deploying | live | failed | rolled_back | superseded. A failed (app, environment, sha) is
    quarantined: automatic deploys skip it (derived from these rows). ``deploy_commit`` is the commit of this
    release in the deploy repository; ``rollback_of`` names the revision a rollback restored.
    """

    __tablename__ = "releases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "app", "environment", "revision"),
        Index("ix_releases_app_env_status", "tenant_id", "app", "environment", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    app: Mapped[str] = mapped_column(String(63))
    environment: Mapped[str] = mapped_column(String(63))
    revision: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(40))
    image: Mapped[str] = mapped_column(String(512))
    digest: Mapped[str | None] = mapped_column(String(100), default=None)
    sha: Mapped[str | None] = mapped_column(String(64), default=None)
    run_id: Mapped[str | None] = mapped_column(String(32), default=None)
    status: Mapped[str] = mapped_column(String(20), default="deploying")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    replicas: Mapped[int] = mapped_column(Integer, default=1)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    manifests: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    endpoints: Mapped[list[Any]] = mapped_column(JSON, default=list)
    deploy_commit: Mapped[str | None] = mapped_column(String(64), default=None)
    rollback_of: Mapped[int | None] = mapped_column(Integer, default=None)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Exposure(Base):
    """An app exposed through the balancer: host and path in a zone, towards the app's instances."""

    __tablename__ = "exposures"
    __table_args__ = (UniqueConstraint("zone", "host", "path"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    app: Mapped[str] = mapped_column(String(63))
    environment: Mapped[str] = mapped_column(String(63))
    zone: Mapped[str] = mapped_column(String(20), default="public")
    host: Mapped[str] = mapped_column(String(253))
    path: Mapped[str] = mapped_column(String(255), default="/")
    port: Mapped[int | None] = mapped_column(Integer, default=None)
    tls_cert: Mapped[str | None] = mapped_column(String(1024), default=None)
    tls_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BalancerState(Base):
    """Per zone and balancer kind: the config version serving now and how the last reload went."""

    __tablename__ = "balancer_states"

    zone: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(64), default=None)
    config: Mapped[str | None] = mapped_column(Text, default=None)
    last_result: Mapped[str | None] = mapped_column(Text, default=None)
    last_reload_at: Mapped[datetime | None] = mapped_column(default=None)
    upstreams: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
