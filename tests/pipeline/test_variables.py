"""Tests for shera.pipeline.variables: the CI_* set Woodpecker gives every step."""

from __future__ import annotations

import json

from shera.model.event import Event, EventKind
from shera.pipeline.variables import MAX_CHANGED_FILES, ci_variables


def test_push_variables() -> None:
    event = Event(
        kind=EventKind.PUSH,
        branch="dev",
        commit="eba09b46064473a1d345da7abf28b477468e8dbd",
        message="Fix the build",
        author="octocat",
        repo="john-doe/my-repo",
        repo_url="https://git.example.com/john-doe/my-repo",
        changed_files=("README.md", ".woodpecker.yml"),
        number=8,
    )
    env = ci_variables(event, workflow="build", step="test", workspace="/woodpecker/src")
    assert env["CI"] == "woodpecker"
    assert env["SHERA"] == "true"
    assert env["CI_REPO"] == "john-doe/my-repo"
    assert env["CI_REPO_OWNER"] == "john-doe"
    assert env["CI_REPO_NAME"] == "my-repo"
    assert env["CI_REPO_URL"] == "https://git.example.com/john-doe/my-repo"
    assert env["CI_COMMIT_SHA"] == "eba09b46064473a1d345da7abf28b477468e8dbd"
    assert env["CI_COMMIT_REF"] == "refs/heads/dev"
    assert env["CI_COMMIT_BRANCH"] == "dev"
    assert env["CI_COMMIT_MESSAGE"] == "Fix the build"
    assert env["CI_COMMIT_AUTHOR"] == "octocat"
    assert env["CI_PIPELINE_EVENT"] == "push"
    assert env["CI_PIPELINE_NUMBER"] == "8"
    assert env["CI_WORKFLOW_NAME"] == "build"
    assert env["CI_STEP_NAME"] == "test"
    assert env["CI_WORKSPACE"] == "/woodpecker/src"
    assert env["CI_SYSTEM_PLATFORM"] == "linux/amd64"
    assert env["CI_SYSTEM_HOST"] == "localhost"
    assert json.loads(env["CI_PIPELINE_FILES"]) == ["README.md", ".woodpecker.yml"]
    # Drone plugins read their own names for the same values
    assert env["DRONE_COMMIT_SHA"] == env["CI_COMMIT_SHA"]
    assert env["DRONE_BRANCH"] == "dev"
    # Only tag, release and pull request events carry these
    for absent in ("CI_COMMIT_TAG", "CI_COMMIT_PULL_REQUEST", "CI_COMMIT_SOURCE_BRANCH", "CI_PIPELINE_CRON"):
        assert absent not in env


def test_tag_event_sets_the_tag_and_its_ref() -> None:
    env = ci_variables(Event(kind=EventKind.TAG, tag="v1.2.3"))
    assert env["CI_COMMIT_TAG"] == "v1.2.3"
    assert env["CI_COMMIT_REF"] == "refs/tags/v1.2.3"
    assert env["DRONE_TAG"] == "v1.2.3"


def test_pull_request_sets_source_target_and_number() -> None:
    event = Event(kind=EventKind.PULL_REQUEST, branch="main", source_branch="feature", pull_request=42)
    env = ci_variables(event)
    assert env["CI_COMMIT_PULL_REQUEST"] == "42"
    assert env["CI_COMMIT_SOURCE_BRANCH"] == "feature"
    assert env["CI_COMMIT_TARGET_BRANCH"] == "main"
    assert env["CI_COMMIT_BRANCH"] == "main"
    assert env["CI_COMMIT_REF"] == "refs/pull/42/head"


def test_cron_and_deployment_details() -> None:
    assert ci_variables(Event(kind=EventKind.CRON, cron="nightly"))["CI_PIPELINE_CRON"] == "nightly"
    env = ci_variables(Event(kind=EventKind.DEPLOYMENT, deploy_target="production"))
    assert env["CI_PIPELINE_DEPLOY_TARGET"] == "production"


def test_matrix_values_win_and_params_do_not() -> None:
    event = Event(params={"CI_COMMIT_BRANCH": "hijack", "RELEASE": "yes"})
    env = ci_variables(event, matrix={"GO_VERSION": "1.22", "CI_WORKFLOW_NAME": "row"}, workflow="build")
    assert env["GO_VERSION"] == "1.22"
    assert env["CI_WORKFLOW_NAME"] == "row"
    assert env["CI_COMMIT_BRANCH"] == "main"
    assert env["RELEASE"] == "yes"


def test_changed_files_list_is_empty_unknown_or_capped() -> None:
    assert ci_variables(Event(changed_files=None))["CI_PIPELINE_FILES"] == "[]"
    many = tuple(f"f{i}" for i in range(MAX_CHANGED_FILES + 1))
    assert "CI_PIPELINE_FILES" not in ci_variables(Event(changed_files=many))


def test_empty_values_are_left_out() -> None:
    env = ci_variables(Event(author="", message=""))
    assert "CI_COMMIT_AUTHOR" not in env
    assert "CI_COMMIT_MESSAGE" not in env
    assert "CI_STEP_NAME" not in env
    assert all(value for key, value in env.items() if key != "CI_PIPELINE_FILES")
