"""``shera lint``: output formats and exit codes, in process (CliRunner) and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from shera.cli.main import app

GOOD = "steps:\n  s:\n    image: alpine\n    commands: [echo hi]\n"
BAD = "matri: {}\nsteps:\n  s:\n    image: alpine\n    commands: [echo hi]\n    depends_on: [nope]\n"
WARN = "platform: linux/amd64\n" + GOOD


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_clean_file_exits_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["lint", str(write(tmp_path / "a.yml", GOOD))])
    assert result.exit_code == 0 and result.stdout == ""


def test_warnings_alone_exit_zero(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yml", WARN)
    result = CliRunner().invoke(app, ["lint", str(path)])
    assert result.exit_code == 0
    assert result.stdout.startswith(
        f"{path}:1:1: warning: 'platform' in the workflow is deprecated [deprecated]"
    )


def test_errors_exit_one_with_one_located_line_each(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yml", BAD)
    result = CliRunner().invoke(app, ["lint", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:1:1: error: unknown key 'matri' in the workflow [unknown_key]"
        " (hint: did you mean 'matrix'?)",
        f"{path}:6:18: error: step 's' depends on unknown step 'nope' [missing_dependency]"
        " (hint: mark it {name: ..., optional: true} if it may be absent)",
    ]


def test_json_format(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yml", BAD)
    result = CliRunner().invoke(app, ["lint", "--format", "json", str(path)])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert problems[0] == {
        "file": str(path),
        "line": 1,
        "column": 1,
        "severity": "error",
        "kind": "unknown_key",
        "message": "unknown key 'matri' in the workflow",
        "hint": "did you mean 'matrix'?",
    }
    assert {"file", "line", "column", "severity", "kind", "message"} <= set(problems[1])


def test_repository_folder_names_files_from_the_current_directory(tmp_path: Path) -> None:
    write(tmp_path / "repo" / ".woodpecker" / "build.yml", GOOD)
    write(tmp_path / "repo" / ".woodpecker" / "deploy.yml", GOOD + "depends_on: [biuld]\n")
    result = CliRunner().invoke(app, ["lint", "--format", "json", str(tmp_path / "repo")])
    # a workflow needing an absent workflow never runs (as in Woodpecker): a warning, not a refusal
    assert result.exit_code == 0
    (problem,) = json.loads(result.stdout)
    assert problem["severity"] == "warning"
    assert problem["file"] == str(tmp_path / "repo" / ".woodpecker" / "deploy.yml")
    assert problem["hint"].startswith("did you mean 'build'?")


def test_several_paths_any_error_fails(tmp_path: Path) -> None:
    good, bad = write(tmp_path / "g.yml", GOOD), write(tmp_path / "b.yml", BAD)
    result = CliRunner().invoke(app, ["lint", str(good), str(bad)])
    assert result.exit_code == 1 and str(good) not in result.stdout


def test_usage_errors_exit_two(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["lint", str(tmp_path / "missing.yml")]).exit_code == 2
    assert runner.invoke(app, ["lint"]).exit_code == 2
    assert (
        runner.invoke(app, ["lint", "--format", "xml", str(write(tmp_path / "a.yml", GOOD))]).exit_code == 2
    )


def test_real_process_bad_yaml_has_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path / ".woodpecker.yml", "steps:\n  s: [unclosed\n")
    done = subprocess.run(
        [sys.executable, "-m", "shera", "lint", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (problem,) = json.loads(done.stdout)
    assert problem["kind"] == "yaml" and problem["line"] == 3
