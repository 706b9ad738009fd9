"""API layer: request and response bodies of REST API v1, in families (XCreate / XUpdate / XPublic).

Responses never carry secret values, token digests or forge tokens. Timestamps serialize as ISO 8601 UTC with
milliseconds and a ``Z`` (``2026-01-02T03:04:05.678Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from shera.model.event import EventKind
from shera.model.records import Role


def iso_ms(value: datetime) -> str:
    """``value`` as ISO 8601 UTC with milliseconds and ``Z``; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_ms, return_type=str, when_used="json")]
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
SecretName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]
FullSha = Annotated[str, Field(pattern=r"^([0-9a-f]{40}|[0-9a-f]{64})$")]
Branch = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\s~^:?*\[\\-][^\s~^:?*\[\\]*$")]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Status(BaseModel):
    status: Literal["ok"] = "ok"


class TenantCreate(Strict):
    name: Name


class TenantPublic(BaseModel):
    id: str
    name: str
    created_at: Timestamp


class TokenCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role


class TokenPublic(BaseModel):
    id: str
    name: str
    role: Role
    created_at: Timestamp
    revoked: bool


class TokenCreated(TokenPublic):
    token: str = Field(description="The bearer token; shown only in this response")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class ProjectCreate(Strict):
    name: Name
    forge: str = Field(description="github | gitlab | gitea | gogs")
    clone_url: Annotated[str, Field(min_length=1, max_length=2048)]
    default_branch: Branch = "main"
    executor: str | None = Field(None, description="Default: the server's default executor")
    trusted: bool = Field(False, description="Trusted projects may use the local executor (admin only)")
    cancel_superseded: bool = True
    forge_api_url: Annotated[str, Field(max_length=2048)] | None = None
    forge_token: Annotated[str, Field(max_length=512)] | None = Field(None, description="Write-only")


class ProjectUpdate(Strict):
    name: Name | None = None
    clone_url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    default_branch: Branch | None = None
    executor: str | None = None
    trusted: bool | None = None
    cancel_superseded: bool | None = None
    forge_api_url: Annotated[str, Field(max_length=2048)] | None = None
    forge_token: Annotated[str, Field(max_length=512)] | None = Field(None, description="Write-only")


class ProjectPublic(BaseModel):
    id: str
    name: str
    forge: str
    clone_url: str
    default_branch: str
    executor: str
    trusted: bool
    cancel_superseded: bool
    forge_api_url: str | None
    has_forge_token: bool
    hook_url: str
    created_at: Timestamp


class ProjectCreated(ProjectPublic):
    webhook_secret: str = Field(description="Give it to the forge; shown at creation and rotation only")


class ProjectsPublic(BaseModel):
    data: list[ProjectPublic]
    count: int


class WebhookSecret(BaseModel):
    webhook_secret: str
    hook_url: str


class SecretPut(Strict):
    value: Annotated[str, Field(min_length=1, max_length=65536)]
    events: list[EventKind] = Field(default_factory=list, description="Empty: every event")


class SecretPublic(BaseModel):
    name: str
    events: list[str]
    updated_at: Timestamp


class SecretsPublic(BaseModel):
    data: list[SecretPublic]
    count: int


class RunCreate(Strict):
    branch: Branch | None = Field(None, description="Resolved to its newest sha; default the default branch")
    sha: FullSha | None = Field(None, description="Run exactly this commit")
    params: dict[str, str] = Field(default_factory=dict, description="Extra pipeline variables")


class StepPublic(BaseModel):
    name: str
    workflow: str
    status: str
    exit_code: int | None
    error: str | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    log_truncated: bool


class RunSummary(BaseModel):
    id: str
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
    approval: str | None
    params: dict[str, Any]
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class RunPublic(RunSummary):
    steps: list[StepPublic]


class RunsPublic(BaseModel):
    data: list[RunSummary]
    count: int


class HookAccepted(BaseModel):
    status: Literal["queued", "duplicate", "ignored", "pong"]
    run_id: str | None = None
    reason: str | None = None
