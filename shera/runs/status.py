"""Runs layer: commit statuses to the forge (the ``StatusHook`` the worker calls when a run starts and ends).

A project reports statuses when it has both ``forge_api_url`` and ``forge_token``; otherwise nothing is sent.
The link on the status is the run in the API (``{public_url}/api/v1/runs/{id}``). Forge errors are logged by
the caller and never change the run.
"""

from __future__ import annotations

from collections.abc import Mapping

from shera.forges.base import Forge, StatusTarget
from shera.model.records import RunRecord
from shera.runs.execute import StatusHook
from shera.settings import Settings
from shera.store.db import Database
from shera.store.projects import get_project

_DESCRIPTIONS = {
    "pending": "She-Ra: the run started",
    "success": "She-Ra: the run succeeded",
    "failure": "She-Ra: the run failed",
    "killed": "She-Ra: the run was cancelled",
}


def forge_status_hook(db: Database, settings: Settings, forges: Mapping[str, Forge]) -> StatusHook:
    """A ``StatusHook`` posting each state to the run's forge through ``Forge.report_status``."""

    def report(run: RunRecord, state: str) -> None:
        project = get_project(db, run.project_id, run.tenant_id)
        if project is None or not project.forge_api_url or not project.forge_token:
            return
        forge = forges.get(project.forge)
        repo = str(run.event_data.get("repo") or "")
        if forge is None or not repo:
            return
        target = StatusTarget(
            api_url=project.forge_api_url, token=project.forge_token, repo=repo, sha=run.sha
        )
        url = f"{settings.public_url.rstrip('/')}/api/v1/runs/{run.id}"
        description = _DESCRIPTIONS.get(state, f"She-Ra: {state}")
        forge.report_status(target, state, description, url)

    return report
