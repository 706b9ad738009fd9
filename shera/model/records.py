"""Model layer: plain records the store returns (never ORM objects), shared by runs, api and cli."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a token or JWT may do in its tenant: ``admin`` > ``maintainer`` > ``developer`` > ``viewer``."""

    ADMIN = "admin"
    MAINTAINER = "maintainer"
    DEVELOPER = "developer"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.MAINTAINER: 2, Role.ADMIN: 3}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: a tenant-scoped role, or a platform admin (``tenant_id is None``, may create tenants)."""

    subject: str
    role: Role
    tenant_id: str | None
    platform_admin: bool = False


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: str
    tenant_id: str
    name: str
    forge: str
    clone_url: str
    default_branch: str
    executor: str
    trusted: bool
    cancel_superseded: bool
    webhook_secret: str
    forge_api_url: str | None
    forge_token: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """A secret with its value: only the worker reads these, never the API."""

    name: str
    value: str
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepRecord:
    id: str
    run_id: str
    workflow: str
    name: str
    position: int
    status: str
    exit_code: int | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    log_bytes: int = 0
    log_truncated: bool = False


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: str
    tenant_id: str
    project_id: str
    number: int
    status: str
    reason: str | None
    event: str
    ref: str
    branch: str | None
    sha: str
    message: str
    author: str
    from_fork: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    attempts: int = 0
    approval: str | None = None
    event_data: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """An image tag She-Ra pushed, with the run, commit and step that built it (``deleted_at``: pruned)."""

    id: str
    tenant_id: str
    project_id: str | None
    registry_host: str
    repository: str
    tag: str
    digest: str
    size: int | None
    run_id: str | None
    step: str | None
    sha: str | None
    branch: str | None
    created_at: datetime
    deleted_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"{self.registry_host}/{self.repository}:{self.tag}"


@dataclass(frozen=True, slots=True)
class RetentionRecord:
    """A project's retention policy; ``updated_at is None`` when the project uses the default."""

    project_id: str
    tenant_id: str
    keep_per_branch: int
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    """One deployment of (tenant, app, environment) at ``revision``; see ``store.models.Release``.

    ``status``: deploying | live | failed | rolled_back | superseded. ``spec`` is the DeploySpec as JSON
    without secret values, ``manifests`` what the target rendered, ``endpoints`` where its instances answer
    (``{host, port, instance, node, ready}``), ``deploy_commit`` its commit in the deploy repository.
    """

    id: str
    tenant_id: str
    project_id: str | None
    app: str
    environment: str
    revision: int
    target: str
    image: str
    digest: str | None
    sha: str | None
    run_id: str | None
    status: str
    reason: str | None
    replicas: int
    spec: dict[str, Any]
    manifests: dict[str, Any]
    endpoints: list[dict[str, Any]]
    deploy_commit: str | None
    rollback_of: int | None
    forced: bool
    created_at: datetime
    finished_at: datetime | None = None
