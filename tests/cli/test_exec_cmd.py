"""`shera exec` end to end with the local executor: prefixed output, summary JSON, masking, exit codes."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.processes import alive

SECRET = "hunter2/pass+word"


def shera(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shera", "exec", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def repo(tmp_path: Path, pipeline: str, name: str = ".woodpecker.yml") -> Path:
    root = tmp_path / "repo"
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(textwrap.dedent(pipeline))
    (root / "hello.txt").write_text("hello from the repository\n")
    return root


PIPELINE = """\
    steps:
      - name: build
        image: alpine
        environment:
          TOKEN:
            from_secret: api_token
        commands:
          - cat hello.txt
          - echo "plain $TOKEN"
          - printf 'user:%s' "$TOKEN" | base64
          - python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["TOKEN"], safe=""))'
      - name: test
        image: alpine
        commands:
          - echo testing
          - exit 3
      - name: notify
        image: alpine
        commands: [echo notified]
        when:
          status: [failure]
"""


def test_runs_a_repository_with_prefixed_masked_output_and_a_summary(tmp_path: Path) -> None:
    root = repo(tmp_path, PIPELINE)
    summary = tmp_path / "summary.json"
    args = ["--executor", "local", "--secret", f"api_token={SECRET}", "--summary-json", str(summary)]
    done = shera(str(root), *args, cwd=tmp_path)
    out = done.stdout
    assert done.returncode == 1, done.stderr
    # Output lines are prefixed by their step; the clone put the repository in the workspace.
    assert "[build] hello from the repository" in out
    assert "[test] testing" in out
    assert "[notify] notified" in out
    # The secret shows in no form: exact, base64 inside a longer text, URL-encoded.
    assert "[build] plain ********" in out
    for form in (SECRET, base64.b64encode(f"user:{SECRET}".encode()).decode()[8:-4], quote(SECRET, safe="")):
        assert form not in out + done.stderr
    # The summary JSON has exactly the documented shape.
    data = json.loads(summary.read_text())
    assert set(data) == {"status", "workflows"}
    assert data["status"] == "failure"
    (workflow,) = data["workflows"]
    assert set(workflow) == {"name", "status", "steps"}
    assert [(s["name"], s["status"], s["exit_code"]) for s in workflow["steps"]] == [
        ("clone", "success", 0),
        ("build", "success", 0),
        ("test", "failure", 3),
        ("notify", "success", 0),
    ]
    assert all(set(s) == {"name", "status", "exit_code", "duration_s"} for s in workflow["steps"])
    assert all(isinstance(s["duration_s"], float) for s in workflow["steps"])


def test_success_exits_zero_and_multi_workflow_output_names_the_workflow(tmp_path: Path) -> None:
    first = "skip_clone: true\nsteps:\n  - name: one\n    image: a\n    commands: [echo one]\n"
    root = repo(tmp_path, first, ".woodpecker/first.yml")
    second = (
        "skip_clone: true\ndepends_on: [first]\nsteps:\n  - name: two\n    image: a\n    commands: [echo 2]\n"
    )
    (root / ".woodpecker" / "second.yml").write_text(second)
    done = shera(str(root), "--executor", "local", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[first/one] one" in done.stdout
    assert "[second/two] 2" in done.stdout


def test_a_file_path_runs_with_its_repository_as_source(tmp_path: Path) -> None:
    root = repo(tmp_path, "steps:\n  - name: s\n    image: a\n    commands: [cat hello.txt]\n")
    done = shera(str(root / ".woodpecker.yml"), "--executor", "local", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[s] hello from the repository" in done.stdout


def test_timeout_kills_the_step(tmp_path: Path) -> None:
    root = repo(
        tmp_path, "skip_clone: true\nsteps:\n  - name: slow\n    image: a\n    commands: [sleep 30]\n"
    )
    summary = tmp_path / "s.json"
    start = time.monotonic()
    done = shera(
        str(root), "--executor", "local", "--timeout", "0.5", "--summary-json", str(summary), cwd=tmp_path
    )
    assert time.monotonic() - start < 20
    assert done.returncode == 1
    step = json.loads(summary.read_text())["workflows"][0]["steps"][0]
    assert (step["status"], step["exit_code"]) == ("killed", 137)


def test_lint_errors_exit_one_with_located_messages(tmp_path: Path) -> None:
    root = repo(tmp_path, "steps:\n  - name: a\n    image: x\n    comands: [echo]\n")
    done = shera(str(root), "--executor", "local", cwd=tmp_path)
    assert done.returncode == 1
    assert ".woodpecker.yml:4:5" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--secret", "no-equals-sign"],
        ["--env", "=value"],
        ["--executor", "nonesuch"],
        ["--event", "push-ish"],
        ["--timeout", "-1"],
    ],
)
def test_usage_errors_exit_two(tmp_path: Path, args: list[str]) -> None:
    root = repo(tmp_path, "steps:\n  - name: a\n    image: x\n    commands: [echo]\n")
    done = shera(str(root), *args, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert shera(str(tmp_path / "nope"), cwd=tmp_path).returncode == 2


def test_ctrl_c_kills_the_running_step_and_leaves_nothing_running(tmp_path: Path) -> None:
    pidfile = tmp_path / "sleep.pid"
    pipeline = f"""\
        skip_clone: true
        steps:
          - name: slow
            image: a
            commands:
              - sleep 60 &
              - echo $! > {pidfile}
              - wait
          - name: after
            image: a
            commands: [echo after]
        """
    root = repo(tmp_path, pipeline)
    summary = tmp_path / "s.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shera",
            "exec",
            str(root),
            "--executor",
            "local",
            "--summary-json",
            str(summary),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        sleeper = int(pidfile.read_text())
        assert alive(sleeper)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the foreground process
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert not alive(sleeper)
    data = json.loads(summary.read_text())
    assert data["status"] == "killed"
    steps = {s["name"]: (s["status"], s["exit_code"]) for s in data["workflows"][0]["steps"]}
    assert steps == {"slow": ("killed", 137), "after": ("skipped", 0)}
