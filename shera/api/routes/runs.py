"""API layer: runs — manual trigger, listing, detail with steps, and the verbs cancel/restart/approve/decline.

Every verb goes through the same ``shera.runs`` services the worker and webhooks use. Triggering by branch
resolves the branch to its newest sha through the git mirror (the only route that touches git).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from shera.api import present
from shera.api.deps import DbDep, DeveloperDep, MaintainerDep, ViewerDep
from shera.api.routes.projects import owned_project
from shera.api.schemas import RunCreate, RunPublic, RunsPublic
from shera.gitops.mirror import Mirrors
from shera.model.records import RunRecord
from shera.model.status import Status
from shera.runs import approve, cancel, create, restart
from shera.store import runs, steps
from shera.store.db import Database
from shera.store.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["runs"])


def owned_run(db: Database, run_id: str, tenant_id: str) -> RunRecord:
    """The tenant's run; ``NotFound`` (404) when missing or another tenant's."""
    record = runs.get_run(db, run_id, tenant_id)
    if record is None:
        raise NotFound("run not found")
    return record


def _detail(db: Database, record: RunRecord) -> RunPublic:
    return present.run(record, steps.list_steps(db, record.id))


@router.post("/projects/{project_id}/runs", status_code=status.HTTP_201_CREATED)
def trigger(
    project_id: str, body: RunCreate, request: Request, db: DbDep, principal: DeveloperDep
) -> RunPublic:
    """Start a manual run of ``sha``, or of the newest commit of ``branch`` (default: the default branch)."""
    project = owned_project(db, project_id, principal.tenant_id)
    branch = body.branch or (None if body.sha else project.default_branch)
    sha = body.sha
    if sha is None:
        mirrors: Mirrors = request.app.state.mirrors
        sha = mirrors.resolve(project.clone_url, branch or project.default_branch)
    record = create.create_manual(
        db, project, sha=sha, branch=branch, params=dict(body.params), actor=principal.subject
    )
    request.app.state.run_created(record.id)
    return _detail(db, record)


@router.get("/projects/{project_id}/runs")
def list_runs(
    project_id: str,
    db: DbDep,
    principal: ViewerDep,
    status: Annotated[Status | None, Query()] = None,
    branch: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RunsPublic:
    """Runs of the project, newest first, filtered by status and branch."""
    owned_project(db, project_id, principal.tenant_id)
    records = runs.list_runs(
        db,
        project_id,
        principal.tenant_id,
        status=status.value if status else None,
        branch=branch,
        limit=limit,
        offset=offset,
    )
    data = [present.run_summary(r) for r in records]
    return RunsPublic(data=data, count=len(data))


@router.get("/runs/{run_id}")
def get_run(run_id: str, db: DbDep, principal: ViewerDep) -> RunPublic:
    """The run with its steps."""
    return _detail(db, owned_run(db, run_id, principal.tenant_id))


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: str, db: DbDep, principal: DeveloperDep) -> RunPublic:
    """Stop a queued, running or waiting run (409 when it has finished)."""
    owned_run(db, run_id, principal.tenant_id)
    return _detail(db, cancel.cancel(db, run_id, principal.tenant_id, reason="cancelled"))


@router.post("/runs/{run_id}/restart", status_code=status.HTTP_201_CREATED)
def restart_run(run_id: str, request: Request, db: DbDep, principal: DeveloperDep) -> RunPublic:
    """A new queued run of the same commit; the response is the new run."""
    owned_run(db, run_id, principal.tenant_id)
    record = restart.restart(db, run_id, principal.tenant_id, actor=principal.subject)
    request.app.state.run_created(record.id)
    return _detail(db, record)


@router.post("/runs/{run_id}/approve")
def approve_run(run_id: str, db: DbDep, principal: MaintainerDep) -> RunPublic:
    """Let a run waiting in ``pending_approval`` continue (maintainer or admin)."""
    owned_run(db, run_id, principal.tenant_id)
    return _detail(db, approve.approve(db, run_id, principal.tenant_id, actor=principal.subject))


@router.post("/runs/{run_id}/decline")
def decline_run(run_id: str, db: DbDep, principal: DeveloperDep) -> RunPublic:
    """End a run waiting in ``pending_approval`` without running the rest."""
    owned_run(db, run_id, principal.tenant_id)
    return _detail(db, approve.decline(db, run_id, principal.tenant_id, actor=principal.subject))
