"""Every example repository under examples/ lints clean and runs green with the local executor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.corpus import ROOT

EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir())
# Examples that build and deploy need the platform (registry, podman): test_hello_web_demo runs them.
LOCAL = [p for p in EXAMPLES if "uses:" not in "".join(f.read_text() for f in p.rglob("*.y*ml"))]


def shera(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shera", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_lints_clean(example: Path) -> None:
    result = shera("lint", str(example), "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p for p in json.loads(result.stdout) if p["severity"] == "error"] == []


@pytest.mark.parametrize("example", LOCAL, ids=[p.name for p in LOCAL])
def test_example_runs_green_locally(example: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    result = shera(
        "exec",
        str(example),
        "--executor",
        "local",
        "--event",
        "push",
        "--branch",
        "main",
        "--secret",
        "deploy_token=example-token-9876",
        "--summary-json",
        str(summary),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "example-token-9876" not in result.stdout + result.stderr
    data = json.loads(summary.read_text())
    assert data["status"] == "success"
    ran = [s for w in data["workflows"] for s in w["steps"] if s["status"] == "success"]
    assert ran, "an example that runs no step proves nothing"


def test_hello_python_masks_the_deploy_token(tmp_path: Path) -> None:
    result = shera(
        "exec",
        str(ROOT / "examples" / "hello-python"),
        "--executor",
        "local",
        "--event",
        "push",
        "--branch",
        "main",
        "--secret",
        "deploy_token=example-token-9876",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "would upload with token ********" in result.stdout
    assert "Hello, She-Ra!" in result.stdout


def test_hello_python_skips_packaging_off_main() -> None:
    result = shera(
        "plan",
        str(ROOT / "examples" / "hello-python"),
        "--event",
        "push",
        "--branch",
        "feature/x",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (workflow,) = json.loads(result.stdout)["workflows"]
    assert "package" in workflow["skipped_steps"]
    assert [s["name"] for stage in workflow["stages"] for s in stage] == [
        "clone",
        "test",
        "run",
        "report-failure",
    ]
