"""Deploy layer (podman target): the pure manifest of one release and its parsed form (``Template``).

``render(spec)`` is what the release row and the deploy repository store: per app/environment the image,
replicas, container ports, plain env values, secret env *names* (never their values), health, volumes,
resource limits, labels and the instance names. It depends on nothing but ``spec``, so the same spec renders
byte-identical JSON. ``Template.parse`` reads a stored manifest back (the target starts instances from the
manifest, which is what makes ``scale`` and ``rollback_to`` work from the record alone).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shera.deploy.base import DeploySpec, HealthCheck, Volume
from shera.errors import PermanentError

KIND = "shera.podman/v1"
LABEL_PREFIX = "io.shera."
TENANT_LABEL = "io.shera.tenant"
APP_LABEL = "io.shera.app"
ENV_LABEL = "io.shera.environment"
REVISION_LABEL = "io.shera.revision"
INSTANCE_LABEL = "io.shera.instance"
_NAME_PART = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$")


def check_part(kind: str, value: str) -> str:
    """``value`` when it can be part of a container or volume name; else a ``PermanentError`` naming it."""
    if not _NAME_PART.match(value):
        raise PermanentError(
            f"{kind} {value!r} cannot name a podman container: use lower-case letters, digits, '-', '.', '_'"
        )
    return value


def base_name(tenant: str, app: str, environment: str) -> str:
    """``shera-<tenant>-<app>-<env>``: the prefix of every container and volume of one app/environment."""
    parts = (check_part("tenant", tenant), check_part("app", app), check_part("environment", environment))
    return "shera-" + "-".join(parts)


def instance_name(tenant: str, app: str, environment: str, revision: int, number: int) -> str:
    return f"{base_name(tenant, app, environment)}-r{revision}-{number}"


def volume_name(tenant: str, app: str, environment: str, volume: str) -> str:
    return f"{base_name(tenant, app, environment)}-{check_part('volume', volume)}"


def _health(check: HealthCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "kind": check.kind,
        "port": check.port,
        "path": check.path,
        "command": list(check.command),
        "initial_delay_s": check.initial_delay_s,
        "timeout_s": check.timeout_s,
        "interval_s": check.interval_s,
    }


def render(spec: DeploySpec) -> dict[str, Any]:
    """The manifest of ``spec`` (pure; see the module docstring). Refuses a non-shared volume with
    ``replicas > 1`` (only one instance could own it) with a ``PermanentError`` naming the volume."""
    for volume in spec.volumes:
        if spec.replicas > 1 and not volume.shared:
            raise PermanentError(
                f"volume {volume.name!r} is not shared but replicas is {spec.replicas}: only one instance "
                "could mount it; set shared: true or replicas: 1"
            )
    if not spec.image:
        raise PermanentError(f"app {spec.app!r}: no image to deploy")
    if spec.health is not None and spec.health.kind != "exec" and spec.health.port not in spec.ports:
        raise PermanentError(f"health port {spec.health.port} is not one of ports {list(spec.ports)}")
    labels = {
        TENANT_LABEL: spec.tenant,
        APP_LABEL: spec.app,
        ENV_LABEL: spec.environment,
        REVISION_LABEL: str(spec.revision),
    }
    if spec.sha:
        labels["io.shera.sha"] = spec.sha
    if spec.run_id:
        labels["io.shera.run"] = spec.run_id
    return {
        "kind": KIND,
        "tenant": spec.tenant,
        "app": spec.app,
        "environment": spec.environment,
        "revision": spec.revision,
        "image": spec.image,
        "digest": spec.digest,
        "replicas": spec.replicas,
        "ports": list(spec.ports),
        "env": dict(sorted(spec.env.items())),
        "secrets": sorted(spec.secret_env),
        "health": _health(spec.health),
        "volumes": [
            {
                "name": volume.name,
                "volume": volume_name(spec.tenant, spec.app, spec.environment, volume.name),
                "mount": volume.mount,
                "shared": volume.shared,
            }
            for volume in spec.volumes
        ],
        "resources": {key: dict(value) for key, value in sorted(spec.resources.items())},
        "strategy": {
            "kind": spec.strategy.kind,
            "max_surge": spec.strategy.max_surge,
            "max_unavailable": spec.strategy.max_unavailable,
        },
        "deadline_s": spec.deadline_s,
        "labels": labels,
        "instances": [
            instance_name(spec.tenant, spec.app, spec.environment, spec.revision, number)
            for number in range(1, spec.replicas + 1)
        ],
    }


@dataclass(frozen=True, slots=True)
class Template:
    """What starting one instance needs, read back from a manifest."""

    tenant: str
    app: str
    environment: str
    revision: int
    image: str
    replicas: int
    ports: tuple[int, ...]
    env: Mapping[str, str]
    secrets: tuple[str, ...]
    health: HealthCheck | None
    volumes: tuple[Volume, ...]
    resources: Mapping[str, Mapping[str, str]]
    strategy: Mapping[str, Any]
    deadline_s: float
    labels: Mapping[str, str]

    @classmethod
    def parse(cls, manifest: Mapping[str, Any]) -> Template:
        """A ``Template`` from a manifest ``render`` produced; ``PermanentError`` when it is not one."""
        if manifest.get("kind") != KIND:
            raise PermanentError(f"not a podman manifest (kind {manifest.get('kind')!r}, expected {KIND!r})")
        try:
            health = manifest["health"]
            volumes = tuple(
                Volume(name=str(v["name"]), mount=str(v["mount"]), shared=bool(v["shared"]))
                for v in manifest["volumes"]
            )
            template = cls(
                tenant=str(manifest["tenant"]),
                app=str(manifest["app"]),
                environment=str(manifest["environment"]),
                revision=int(manifest["revision"]),
                image=str(manifest["image"]),
                replicas=int(manifest["replicas"]),
                ports=tuple(int(p) for p in manifest["ports"]),
                env={str(k): str(v) for k, v in manifest["env"].items()},
                secrets=tuple(str(s) for s in manifest["secrets"]),
                health=None
                if health is None
                else HealthCheck(
                    kind=health["kind"],
                    port=health["port"],
                    path=str(health["path"]),
                    command=tuple(str(c) for c in health["command"]),
                    initial_delay_s=float(health["initial_delay_s"]),
                    timeout_s=float(health["timeout_s"]),
                    interval_s=float(health["interval_s"]),
                ),
                volumes=volumes,
                resources={
                    str(k): {str(a): str(b) for a, b in v.items()} for k, v in manifest["resources"].items()
                },
                strategy=dict(manifest["strategy"]),
                deadline_s=float(manifest["deadline_s"]),
                labels={str(k): str(v) for k, v in manifest["labels"].items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PermanentError(f"the podman manifest is incomplete or malformed: {exc!r}") from exc
        base_name(template.tenant, template.app, template.environment)
        return template

    def name(self, number: int) -> str:
        return instance_name(self.tenant, self.app, self.environment, self.revision, number)

    def volume_mounts(self) -> list[tuple[str, str]]:
        """``(podman volume name, mount path)`` for every volume."""
        return [(volume_name(self.tenant, self.app, self.environment, v.name), v.mount) for v in self.volumes]
