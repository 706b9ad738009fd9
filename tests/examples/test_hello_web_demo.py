"""The main job of `make demo` works: hello-web pushed, built, deployed, auto-rolled back, rolled back to v1.

Runs ``scripts/demo_release.py`` (a real ``shera up`` with its private Redis and registry, buildah, podman)
in a temp directory and checks what it narrates; the script itself stops with an error when a step of the
story does not happen (a run that should succeed fails, or the reverse).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.corpus import ROOT
from tests.support.podman import PodmanTestEnv

pytestmark = pytest.mark.podman


@pytest.mark.timeout(900)
def test_the_demo_story_happens(tmp_path: Path, podman_env: PodmanTestEnv) -> None:
    # podman_env only proves podman works here (it skips, or fails under CI, when it does not)
    del podman_env
    env = {**os.environ, "SHERA_DEMO_WORK": str(tmp_path / "demo")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_release.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=840,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "answering: Hello from She-Ra, version 1" in out
    assert "answering: Hello from She-Ra, version 2" in out
    assert "run #3 failure" in out and "deploy failure" in out
    # v2 kept answering while v3 failed and was rolled back
    lines = [line for line in out.splitlines() if "requests during the rollout" in line]
    assert lines and "version 2" in lines[0] and ", 0 failed)" in lines[0], lines
    assert "release 1 restored as release 5" in out
    assert "rolled_back" in out and "live" in out
