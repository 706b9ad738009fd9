"""Tests of the pure podman argument builders."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shera.errors import ExecutorError
from shera.executors.podman_spec import (
    MAX_ENV_FILE_LINE,
    SCRIPT_ENTRYPOINT,
    container_env,
    create_args,
    split_env,
)
from shera.model.plan import StepKind, StepPlan, Workspace


def build(step: StepPlan, **overrides: object) -> list[str]:
    fields: dict[str, object] = {
        "step": step,
        "pod": "shera-wf",
        "name": "shera-wf-build-1",
        "workflow": "wf",
        "workspace_dir": Path("/tmp/ws"),
        "workspace": Workspace(),
        "hosts_file": Path("/tmp/run/hosts"),
        "env_file": Path("/tmp/run/env/x.env"),
    }
    fields.update(overrides)
    return create_args(**fields)  # type: ignore[arg-type]


def pairs(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def test_a_commands_step_runs_the_script_entrypoint_in_the_pod_with_the_workspace() -> None:
    step = StepPlan(
        name="build", kind=StepKind.COMMANDS, image="alpine:3", commands=("make",), directory="sub"
    )
    args = build(step)
    assert args[0] == "create"
    assert args[-1] == "alpine:3"
    assert "--init" in args
    assert "--pull=missing" in args
    assert pairs(args, "--pod") == ["shera-wf"]
    assert pairs(args, "--volume") == ["/tmp/ws:/woodpecker", "/tmp/run/hosts:/etc/hosts:ro"]
    assert pairs(args, "--workdir") == ["/woodpecker/src/sub"]
    assert json.loads(pairs(args, "--entrypoint")[0]) == list(SCRIPT_ENTRYPOINT)
    assert pairs(args, "--env-file") == ["/tmp/run/env/x.env"]
    assert pairs(args, "--label") == ["io.shera.workflow=wf", "io.shera.step=build"]
    assert "--privileged" not in args


def test_a_plugin_step_keeps_its_image_entrypoint_unless_one_is_given() -> None:
    plugin = StepPlan(name="p", kind=StepKind.PLUGIN, image="plugins/s3")
    assert "--entrypoint" not in build(plugin)
    custom = StepPlan(
        name="p", kind=StepKind.PLUGIN, image="x", entrypoint=("/bin/run", "--fast"), privileged=True
    )
    args = build(custom)
    assert json.loads(pairs(args, "--entrypoint")[0]) == ["/bin/run", "--fast"]
    assert "--privileged" in args


def test_bad_steps_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ExecutorError, match="no image"):
        build(StepPlan(name="x", kind=StepKind.COMMANDS, commands=("true",)))
    with pytest.raises(ExecutorError, match="outside the workspace"):
        build(StepPlan(name="x", kind=StepKind.COMMANDS, image="a", commands=("true",), directory="../.."))
    with pytest.raises(ExecutorError, match="cannot be bind-mounted"):
        build(
            StepPlan(name="x", kind=StepKind.COMMANDS, image="a", commands=("true",)),
            workspace_dir=Path("/a:b"),
        )


def test_container_env_carries_the_script_and_woodpecker_defaults() -> None:
    step = StepPlan(name="s", kind=StepKind.COMMANDS, image="a", commands=("echo hi",))
    env = container_env(step, {"HOME": "/home/ci", "A": "1"})
    assert env["HOME"] == "/home/ci"
    assert env["SHELL"] == "/bin/sh"
    assert env["A"] == "1"
    assert base64.b64decode(env["CI_SCRIPT"]).decode() == "set -e\necho '+ echo hi'\necho hi\n"
    assert container_env(StepPlan(name="p", kind=StepKind.PLUGIN, image="a"), {"A": "1"}) == {"A": "1"}


def test_values_go_to_the_env_file_unless_it_cannot_hold_them() -> None:
    long_value = "x" * MAX_ENV_FILE_LINE
    split = split_env(
        {"A": "1", "B": "has = and spaces ", "C": "two\nlines", "D": "cr\r", "E": long_value, "F": ""}
    )
    assert split.file_text == "A=1\nB=has = and spaces \nF=\n"
    assert split.argv == ("--env", "C=two\nlines", "--env", "D=cr\r", "--env", f"E={long_value}")


def test_impossible_variables_are_refused() -> None:
    with pytest.raises(ExecutorError, match="cannot be passed"):
        split_env({"A=B": "1"})
    with pytest.raises(ExecutorError, match="cannot be passed"):
        split_env({"A": "nul\0byte"})
