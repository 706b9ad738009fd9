"""Store layer: ORM rows to the plain records of ``shera.model.records`` (nothing outside the store sees ORM).

SQLite keeps no time zone: its timestamps come back naive. Every timestamp the store writes is UTC, so naive
values are marked UTC here and callers always get aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shera.model.records import ProjectRecord, RunRecord, StepRecord
from shera.store.models import Project, Run, Step


def aware(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def maybe_aware(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None


def run_record(run: Run) -> RunRecord:
    return RunRecord(
        id=run.id,
        tenant_id=run.tenant_id,
        project_id=run.project_id,
        number=run.number,
        status=run.status,
        reason=run.reason,
        event=run.event,
        ref=run.ref,
        branch=run.branch,
        sha=run.sha,
        message=run.message,
        author=run.author,
        from_fork=run.from_fork,
        created_at=aware(run.created_at),
        started_at=maybe_aware(run.started_at),
        finished_at=maybe_aware(run.finished_at),
        lease_owner=run.lease_owner,
        lease_until=maybe_aware(run.lease_until),
        attempts=run.attempts,
        approval=run.approval,
        event_data=dict(run.event_data or {}),
        params=dict(run.params or {}),
    )


def step_record(step: Step) -> StepRecord:
    return StepRecord(
        id=step.id,
        run_id=step.run_id,
        workflow=step.workflow,
        name=step.name,
        position=step.position,
        status=step.status,
        exit_code=step.exit_code,
        error=step.error,
        started_at=maybe_aware(step.started_at),
        finished_at=maybe_aware(step.finished_at),
        log_bytes=step.log_bytes,
        log_truncated=step.log_truncated,
    )


def project_record(project: Project) -> ProjectRecord:
    return ProjectRecord(
        id=project.id,
        tenant_id=project.tenant_id,
        name=project.name,
        forge=project.forge,
        clone_url=project.clone_url,
        default_branch=project.default_branch,
        executor=project.executor,
        trusted=project.trusted,
        cancel_superseded=project.cancel_superseded,
        webhook_secret=project.webhook_secret,
        forge_api_url=project.forge_api_url,
        forge_token=project.forge_token,
        created_at=aware(project.created_at),
    )
