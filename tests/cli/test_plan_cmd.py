"""``shera plan``: the plan of a repository for an event, as JSON or a text tree, and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shera.cli.event_options import build_event
from shera.model.event import EventKind

PIPELINE = """
when:
  event: [push, tag, pull_request]
steps:
  - name: test
    image: python:3.12
    commands:
      - pytest
  - name: docs
    image: alpine
    commands: [make docs]
    when:
      path: "docs/**"
  - name: release
    image: plugins/github-release
    settings:
      title: ${CI_COMMIT_TAG}
    when:
      event: tag
"""


def shera(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shera", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".woodpecker.yml").write_text(PIPELINE)
    return tmp_path


def test_json_plan_of_a_tag(repo: Path) -> None:
    result = shera("plan", str(repo), "--event", "tag", "--tag", "v2.0.0", "--format", "json")
    assert result.returncode == 0, result.stderr
    [workflow] = json.loads(result.stdout)["workflows"]
    assert workflow["name"] == "woodpecker"
    assert workflow["skipped"] is False
    assert [[step["name"] for step in stage] for stage in workflow["stages"]] == [
        ["clone"], ["test"], ["docs"], ["release"]
    ]  # fmt: skip
    release = workflow["stages"][3][0]
    assert release["kind"] == "plugin"
    assert release["environment"] == {"PLUGIN_TITLE": "v2.0.0"}


def test_changed_files_filter_paths_and_text_is_a_tree(repo: Path) -> None:
    result = shera("plan", str(repo), "--branch", "dev", "--changed", "src/app.py", "--changed", "README.md")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "workflow woodpecker",
        "  stage 1: clone (clone)",
        "  stage 2: test (commands, python:3.12)",
        "  skipped: docs, release",
    ]


def test_skip_ci_message_skips_the_workflow(repo: Path) -> None:
    result = shera("plan", str(repo), "--message", "typo [CI SKIP]", "--format", "json")
    assert result.returncode == 0, result.stderr
    [workflow] = json.loads(result.stdout)["workflows"]
    assert workflow["skipped"] is True
    assert workflow["stages"] == []
    assert workflow["skipped_steps"] == ["test", "docs", "release"]


def test_a_pipeline_with_errors_prints_them_like_lint_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / ".woodpecker.yml").write_text("steps:\n  - name: a\n    image: alpine\n    comands: [true]\n")
    result = shera("plan", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert ".woodpecker.yml:4:5: error: unknown key 'comands'" in result.stdout
    assert "nothing planned" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--event", "merge"],
        ["--event", "tag"],
        ["--commit", "not-a-sha"],
        ["--repo", "no-slash"],
        ["--format", "yaml"],
    ],
)
def test_usage_errors_exit_2(repo: Path, args: list[str]) -> None:
    result = shera("plan", str(repo), *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = shera("plan", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr


def test_build_event_from_flags() -> None:
    event = build_event(
        "pull_request", branch="main", changed=["a.py"], message="m", commit="ABCDEF12", repo="org/app"
    )
    assert event.kind is EventKind.PULL_REQUEST
    assert (event.branch, event.changed_files, event.commit, event.repo) == (
        "main",
        ("a.py",),
        "abcdef12",
        "org/app",
    )
    assert build_event("push").changed_files is None  # no --changed: the forge "did not say"
    assert build_event("cron", cron="nightly").cron == "nightly"
    assert build_event("tag", tag="v1").effective_ref == "refs/tags/v1"
