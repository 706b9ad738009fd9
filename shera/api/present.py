"""API layer: records from the store turned into the public response bodies (pure functions)."""

from __future__ import annotations

from shera.api.schemas import (
    ProjectCreated,
    ProjectPublic,
    RunPublic,
    RunSummary,
    SecretPublic,
    StepPublic,
    TenantPublic,
    TokenPublic,
)
from shera.model.records import ProjectRecord, RunRecord, StepRecord, TenantRecord
from shera.store.secrets import SecretInfo
from shera.store.tokens import TokenInfo


def hook_url(public_url: str, project: ProjectRecord) -> str:
    """Where the forge must send this project's webhooks."""
    return f"{public_url.rstrip('/')}/hooks/{project.forge}/{project.id}"


def tenant(record: TenantRecord) -> TenantPublic:
    return TenantPublic(id=record.id, name=record.name, created_at=record.created_at)


def token(info: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=info.id, name=info.name, role=info.role, created_at=info.created_at, revoked=info.revoked
    )


def project(record: ProjectRecord, public_url: str) -> ProjectPublic:
    return ProjectPublic(
        id=record.id,
        name=record.name,
        forge=record.forge,
        clone_url=record.clone_url,
        default_branch=record.default_branch,
        executor=record.executor,
        trusted=record.trusted,
        cancel_superseded=record.cancel_superseded,
        forge_api_url=record.forge_api_url,
        has_forge_token=bool(record.forge_token),
        hook_url=hook_url(public_url, record),
        created_at=record.created_at,
    )


def project_created(record: ProjectRecord, public_url: str) -> ProjectCreated:
    return ProjectCreated(**project(record, public_url).model_dump(), webhook_secret=record.webhook_secret)


def secret(info: SecretInfo) -> SecretPublic:
    return SecretPublic(name=info.name, events=list(info.events), updated_at=info.updated_at)


def step(record: StepRecord) -> StepPublic:
    return StepPublic(
        name=record.name,
        workflow=record.workflow,
        status=record.status,
        exit_code=record.exit_code,
        error=record.error,
        started_at=record.started_at,
        finished_at=record.finished_at,
        log_truncated=record.log_truncated,
    )


def run_summary(record: RunRecord) -> RunSummary:
    return RunSummary(
        id=record.id,
        project_id=record.project_id,
        number=record.number,
        status=record.status,
        reason=record.reason,
        event=record.event,
        ref=record.ref,
        branch=record.branch,
        sha=record.sha,
        message=record.message,
        author=record.author,
        from_fork=record.from_fork,
        approval=record.approval,
        params=dict(record.params),
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


def run(record: RunRecord, steps: list[StepRecord]) -> RunPublic:
    return RunPublic(**run_summary(record).model_dump(), steps=[step(s) for s in steps])
