"""Commit statuses reach the forge: the worker posts each state of a run to the project's forge."""

from __future__ import annotations

import json
from pathlib import Path

from shera.forges.github import GitHub
from shera.runs.create import create_from_hook
from shera.runs.status import forge_status_hook
from shera.store.db import Database
from shera.store.runs import get_run
from tests.forges.recorder import recording_server
from tests.runs.support import make_project, push_hook, settings_for, sha_of


def test_each_run_state_is_posted_to_the_forge(database: Database, tmp_path: Path) -> None:
    with recording_server() as forge_api:
        project = make_project(database, forge_api_url=forge_api.url, forge_token="ghp_test_token")
        outcome = create_from_hook(database, project, "github", push_hook(sha_of(7), repo="adora/app"))
        run = get_run(database, outcome.run_id or "", None)
        assert run is not None
        hook = forge_status_hook(database, settings_for(tmp_path), {"github": GitHub()})

        hook(run, "pending")
        hook(run, "success")

    assert [r.path for r in forge_api.requests] == [f"/repos/adora/app/statuses/{sha_of(7)}"] * 2
    bodies = [json.loads(r.body) for r in forge_api.requests]
    assert [b["state"] for b in bodies] == ["pending", "success"]
    assert all(b["target_url"].endswith(f"/api/v1/runs/{run.id}") for b in bodies)
    assert forge_api.requests[0].headers["authorization"] == "Bearer ghp_test_token"


def test_projects_without_forge_credentials_report_nothing(database: Database, tmp_path: Path) -> None:
    with recording_server() as forge_api:
        project = make_project(database, forge_api_url=forge_api.url, forge_token=None)
        outcome = create_from_hook(database, project, "github", push_hook(sha_of(8), repo="adora/app"))
        run = get_run(database, outcome.run_id or "", None)
        assert run is not None
        forge_status_hook(database, settings_for(tmp_path), {"github": GitHub()})(run, "pending")
    assert forge_api.requests == []
