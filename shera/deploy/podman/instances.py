"""Deploy layer (podman target): start, stop and list the containers that are an app's instances.

Each instance is ``podman run --detach`` of the release's image, named
``shera-<tenant>-<app>-<env>-r<revision>-<n>``, labelled (``io.shera.tenant``, ``app``, ``environment``,
``revision``, ``instance``), with ``--init`` (PID 1 forwards SIGTERM, so a stop is quick) and
``--restart=no`` (She-Ra, not podman, decides what runs). Networking is never the default bridge (its
10.88.0.0/16 addresses must not be used): by default user-mode ``slirp4netns``, each container port published
on an allocated ``127.0.0.1`` port only; or ``host`` networking, where the app is given its allocated port in
``PORT`` and must bind ``127.0.0.1:$PORT`` (one port per app). Volumes are named podman volumes
``shera-<tenant>-<app>-<env>-<vol>``; every replica mounts the same one (``shared``). Environment values go
through an env file (mode 0600, deleted right after ``podman run`` returned), as the podman executor does; a
value the file cannot carry goes on the command line.

All podman calls go through ``PodmanCli`` (errors already translated to ``shera.errors``).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shera.deploy.podman.ports import LOOPBACK, port_in_use
from shera.deploy.podman.render import (
    APP_LABEL,
    ENV_LABEL,
    INSTANCE_LABEL,
    REVISION_LABEL,
    TENANT_LABEL,
    Template,
)
from shera.errors import PermanentError, TemporaryError
from shera.executors.podman_cli import PodmanCli
from shera.executors.podman_spec import split_env

Network = Literal["slirp4netns", "host"]
SLIRP_NETWORK = "slirp4netns:port_handler=slirp4netns"
SOCKET_PATH_MAX = 107
"""Longest unix socket path (``sun_path`` is 108 bytes with its NUL)."""
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|Ki|Mi|Gi|Ti|K|M|G|T)?$")
_FACTORS = {
    None: 1.0, "m": 0.001, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
}  # fmt: skip


class PortTaken(TemporaryError):
    """Another process bound an allocated host port first; retry with fresh ports."""


@dataclass(frozen=True, slots=True)
class Instance:
    """One container of an app/environment as podman lists it."""

    name: str
    revision: int
    number: int
    running: bool
    image: str
    ports: Mapping[int, int]
    labels: Mapping[str, str]


def _quantity(kind: str, value: str) -> float:
    match = _QUANTITY.match(value.strip())
    if not match:
        raise PermanentError(f"resource {kind} {value!r} is not a quantity such as 500m, 1 or 512Mi")
    return float(match.group(1)) * _FACTORS[match.group(2)]


def resource_args(resources: Mapping[str, Mapping[str, str]]) -> list[str]:
    """``--cpus``/``--memory`` from ``limits`` (requests are a scheduling hint; one machine needs none)."""
    limits = resources.get("limits", {})
    args: list[str] = []
    if "cpu" in limits:
        args += ["--cpus", f"{_quantity('cpu', limits['cpu']):g}"]
    if "memory" in limits:
        args += ["--memory", str(int(_quantity("memory", limits["memory"])))]
    return args


def create_args(
    template: Template,
    number: int,
    ports: Mapping[int, int],
    env_file: Path | None,
    env_argv: Sequence[str] = (),
    network: Network = "slirp4netns",
) -> list[str]:
    """``podman run`` arguments for instance ``number`` (pure; the image last). ``ports`` maps each
    container port to its host port on 127.0.0.1. With ``network="host"`` nothing is published: the app
    is told its one port in ``PORT`` and must bind ``127.0.0.1:$PORT`` itself."""
    args = ["run", "--detach", "--pull=missing", "--name", template.name(number), "--init", "--restart=no"]
    if network == "host":
        if len(template.ports) > 1:
            raise PermanentError(
                f"app {template.app!r}: host networking gives an app one port (PORT), "
                f"not {len(template.ports)}"
            )
        args += ["--network", "host"]
        args += [arg for port in template.ports for arg in ("--env", f"PORT={ports[port]}")]
    else:
        args += ["--network", SLIRP_NETWORK]
        for container_port in template.ports:
            args += ["--publish", f"{LOOPBACK}:{ports[container_port]}:{container_port}"]
    labels = {**template.labels, INSTANCE_LABEL: str(number)}
    for key, value in labels.items():
        args += ["--label", f"{key}={value}"]
    for volume, mount in template.volume_mounts():
        args += ["--volume", f"{volume}:{mount}"]
    args += resource_args(template.resources)
    if env_file is not None:
        args += ["--env-file", str(env_file)]
    args += list(env_argv)
    args.append(template.image)
    return args


def slirp_socket_problem(containers_conf: Path | None) -> str | None:
    """Why slirp4netns port forwarding cannot work with this ``containers.conf``, or ``None``.

    slirp4netns listens on an API socket ``<tmp_dir>/<64-hex container id>.net``; when that path is longer
    than a unix socket path can be, podman hangs or fails starting the container."""
    if containers_conf is None:
        return None
    try:
        engine = tomllib.loads(containers_conf.read_text()).get("engine", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    tmp_dir = str(engine.get("tmp_dir", ""))
    length = len(tmp_dir) + len("/") + 64 + len(".net")
    if tmp_dir and length > SOCKET_PATH_MAX:
        return (
            f"podman's tmp_dir {tmp_dir!r} is too long for slirp4netns port forwarding (its API socket path "
            f"would be {length} bytes, at most {SOCKET_PATH_MAX} work): use a shorter data directory or "
            "host networking"
        )
    return None


def _int(value: object, default: int = 0) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


class Instances:
    """Podman operations on instance containers; ``env_dir`` holds the short-lived env files."""

    def __init__(self, cli: PodmanCli, env_dir: Path, network: Network = "slirp4netns") -> None:
        self.cli = cli
        self.env_dir = env_dir
        self.network = network

    def start(
        self, template: Template, number: int, ports: Mapping[int, int], env: Mapping[str, str]
    ) -> None:
        """Create and start one instance. ``PortTaken`` when a host port was taken meanwhile (nothing is
        left behind); ``PermanentError`` with podman's reason otherwise."""
        name = template.name(number)
        split = split_env(env)
        self.env_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        env_file = self.env_dir / f"{name}.env"
        env_file.unlink(missing_ok=True)
        descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(split.file_text)
            done = self.cli.call(*create_args(template, number, ports, env_file, split.argv, self.network))
        finally:
            env_file.unlink(missing_ok=True)
        if done.exit_code == 0:
            return
        self.cli.call("rm", "--force", "--ignore", "--time", "0", name)
        if port_in_use(done.stderr):
            raise PortTaken(f"instance {name}: {done.message}")
        raise PermanentError(f"instance {name} could not be started: {done.message}")

    def ensure_volume(self, name: str, labels: Mapping[str, str]) -> None:
        if self.cli.call("volume", "exists", name).exit_code == 0:
            return
        label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
        done = self.cli.call("volume", "create", *label_args, name)
        if done.exit_code != 0 and "already exists" not in done.stderr:
            raise PermanentError(f"volume {name} could not be created: {done.message}")

    def volumes(self, tenant: str, app: str, environment: str) -> list[str]:
        """The names of the podman volumes labelled as this app/environment's."""
        done = self.cli.run("volume", "ls", "--format", "json", "--filter", f"label={APP_LABEL}={app}")
        try:
            rows: list[dict[str, Any]] = json.loads(done or "[]")
        except ValueError as exc:
            raise TemporaryError(f"podman volume ls printed something that is not JSON: {exc}") from exc
        wanted = {TENANT_LABEL: tenant, APP_LABEL: app, ENV_LABEL: environment}
        return sorted(
            str(row.get("Name"))
            for row in rows
            if all((row.get("Labels") or {}).get(key) == value for key, value in wanted.items())
        )

    def remove_volume(self, name: str) -> None:
        done = self.cli.call("volume", "rm", "--force", name)
        if done.exit_code != 0 and "no such volume" not in done.stderr.lower():
            raise PermanentError(f"volume {name} could not be removed: {done.message}")

    def stop(self, name: str, grace_s: float) -> None:
        """SIGTERM (``podman stop --time``), SIGKILL after ``grace_s``, then remove; harmless if gone."""
        self.cli.call("stop", "--ignore", "--time", str(max(0, round(grace_s))), name)
        done = self.cli.call("rm", "--force", "--ignore", "--time", "0", name)
        if done.exit_code != 0:
            raise PermanentError(f"instance {name} could not be removed: {done.message}")

    def find(self, tenant: str, app: str, environment: str) -> list[Instance]:
        """Every container (running or not) labelled as an instance of this app/environment."""
        done = self.cli.run("ps", "--all", "--format", "json", "--filter", f"label={APP_LABEL}={app}")
        try:
            rows: list[dict[str, Any]] = json.loads(done or "[]")
        except ValueError as exc:
            raise TemporaryError(f"podman ps printed something that is not JSON: {exc}") from exc
        found = []
        for row in rows:
            labels = {str(k): str(v) for k, v in (row.get("Labels") or {}).items()}
            wanted = {TENANT_LABEL: tenant, APP_LABEL: app, ENV_LABEL: environment}
            if any(labels.get(key) != value for key, value in wanted.items()):
                continue
            ports = {
                _int(p.get("container_port")): _int(p.get("host_port"))
                for p in row.get("Ports") or []
                if isinstance(p, dict)
            }
            found.append(
                Instance(
                    name=str((row.get("Names") or [""])[0]),
                    revision=_int(labels.get(REVISION_LABEL), -1),
                    number=_int(labels.get(INSTANCE_LABEL), 0),
                    running=row.get("State") == "running",
                    image=str(row.get("Image", "")),
                    ports=ports,
                    labels=labels,
                )
            )
        return sorted(found, key=lambda instance: (instance.revision, instance.number))

    def inspect(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """``podman container inspect`` of ``names`` (the ones that still exist)."""
        if not names:
            return []
        done = self.cli.call("container", "inspect", *names)
        try:
            data = json.loads(done.stdout or "[]")
        except ValueError:
            return []
        return [item for item in data if isinstance(item, dict)]

    def env_of(self, name: str) -> dict[str, str]:
        """The environment of a container (image defaults included)."""
        for item in self.inspect([name]):
            pairs = (item.get("Config") or {}).get("Env") or []
            return dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        return {}

    def why_not_running(self, name: str) -> str | None:
        """``None`` while ``name`` runs; else a reason with its exit code."""
        done = self.cli.call(
            "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name
        )
        if done.exit_code != 0:
            return f"instance {name} is gone"
        status, _, code = done.stdout.strip().partition(" ")
        return None if status == "running" else f"instance {name} is {status} (exit code {code})"

    def exec(self, name: str, argv: Sequence[str], timeout: float) -> int:
        return self.cli.call("exec", name, *argv, timeout=timeout).exit_code

    def logs(self, name: str, tail: int = 20) -> str:
        done = self.cli.call("logs", "--tail", str(tail), name)
        return done.stdout + done.stderr
