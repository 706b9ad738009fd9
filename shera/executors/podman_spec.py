"""Executors layer: pure builders of the podman arguments for one step's container (tested as data).

Environment values never reach podman's own process environment (a step's ``LD_PRELOAD``, ``TMPDIR`` or
``CONTAINERS_CONF`` would change podman itself) and, where possible, not its command line either (visible in
the process list): they go into an ``--env-file`` the executor writes with mode 0600 and deletes right
after ``podman create``. Podman reads that file line by line, so a value containing a line break or a
carriage return, or too long for one line of its reader, goes on the command line as ``--env KEY=VALUE``.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shera.errors import ExecutorError
from shera.executors.base import encoded_script
from shera.executors.workdir import container_workdir
from shera.model.plan import StepPlan, Workspace

SCRIPT_ENTRYPOINT = ("/bin/sh", "-c", "echo $CI_SCRIPT | base64 -d | /bin/sh -e")
"""Woodpecker's entrypoint for ``commands`` steps; a step's own ``entrypoint`` replaces it."""

WORKFLOW_LABEL = "io.shera.workflow"
STEP_LABEL = "io.shera.step"
MAX_ENV_FILE_LINE = 32 * 1024
_ENV_KEY = re.compile(r"^[^=\s#][^=]*$")


def container_env(step: StepPlan, env: Mapping[str, str]) -> dict[str, str]:
    """The container's environment: ``env``, plus for ``commands`` steps the script in ``CI_SCRIPT`` and
    Woodpecker's ``HOME=/root`` / ``SHELL=/bin/sh`` defaults."""
    values = dict(env)
    if step.commands:
        values.setdefault("HOME", "/root")
        values.setdefault("SHELL", "/bin/sh")
        values["CI_SCRIPT"] = encoded_script(step.commands)
    return values


@dataclass(frozen=True, slots=True)
class EnvSplit:
    """``file_text`` for ``--env-file`` and the ``--env KEY=VALUE`` arguments that cannot go there."""

    file_text: str
    argv: tuple[str, ...]


def split_env(values: Mapping[str, str]) -> EnvSplit:
    """Put every value podman can read back from an env file into the file; the rest into arguments."""
    lines: list[str] = []
    argv: list[str] = []
    for key, value in values.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ExecutorError(f"environment variable {key!r} cannot be passed to a container")
        line = f"{key}={value}"
        if _ENV_KEY.match(key) and "\n" not in value and "\r" not in value and len(line) < MAX_ENV_FILE_LINE:
            lines.append(line)
        else:
            argv += ["--env", line]
    return EnvSplit("".join(f"{line}\n" for line in lines), tuple(argv))


def _check_bind_source(path: Path) -> str:
    text = str(path)
    if ":" in text or "," in text:
        raise ExecutorError(f"the path {text!r} cannot be bind-mounted by podman (it contains ':' or ',')")
    return text


def create_args(
    *,
    step: StepPlan,
    pod: str,
    name: str,
    workflow: str,
    workspace_dir: Path,
    workspace: Workspace,
    hosts_file: Path,
    env_file: Path | None,
    env_argv: tuple[str, ...] = (),
) -> list[str]:
    """``podman create`` arguments for ``step`` (the image last); raises ``ExecutorError`` on a bad step."""
    if not step.image:
        raise ExecutorError(f"step {step.name!r} has no image")
    workdir = container_workdir(workspace, step.directory)
    base = posixpath.normpath(workspace.base)
    args = ["create", "--pull=missing", "--pod", pod, "--name", name, "--init"]
    args += ["--label", f"{WORKFLOW_LABEL}={workflow}", "--label", f"{STEP_LABEL}={step.name}"]
    args += ["--volume", f"{_check_bind_source(workspace_dir)}:{base}"]
    args += ["--volume", f"{_check_bind_source(hosts_file)}:/etc/hosts:ro", "--workdir", workdir]
    if step.privileged:
        args.append("--privileged")
    entrypoint = step.entrypoint or (SCRIPT_ENTRYPOINT if step.commands else None)
    if entrypoint:
        args += ["--entrypoint", json.dumps(list(entrypoint))]
    if env_file is not None:
        args += ["--env-file", str(env_file)]
    args += env_argv
    args.append(step.image)
    return args
