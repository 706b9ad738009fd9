"""Deploy layer: a ``DeploySpec`` as the JSON a release records (secret *names* only, never their values) and
back, image pinning and the default environment of a branch. Pure functions.

(Turning a validated ``uses: deploy`` ``with:`` into a spec lives in ``shera.steps.deploy_spec``: the steps
layer sits above this one.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from shera.deploy.base import DeploySpec, HealthCheck, Strategy, Volume
from shera.errors import ConfigError

SPEC_VERSION = 1


def pin(image: str, digest: str | None) -> str:
    """``image`` pinned to ``digest``: ``host/repo:tag`` + ``sha256:…`` → ``host/repo@sha256:…``."""
    if not digest or "@" in image:
        return image
    slash, colon = image.rfind("/"), image.rfind(":")
    name = image[:colon] if colon > slash else image
    return f"{name}@{digest}"


def spec_to_json(
    spec: DeploySpec, *, secrets: Mapping[str, str], options: Mapping[str, Any]
) -> dict[str, Any]:
    """The spec as JSON for the release row: ``secret_env`` is replaced by ``secrets`` (env → secret name);
    ``options`` are the step's own settings (``rollback``, ``sync``, ``target``)."""
    data = asdict(spec)
    data.pop("secret_env")
    data["env"] = dict(spec.env)
    data["resources"] = dict(spec.resources)
    data["node_selector"] = dict(spec.node_selector)
    return {"version": SPEC_VERSION, "spec": data, "secrets": dict(secrets), "options": dict(options)}


def spec_from_json(data: Mapping[str, Any], secret_env: Mapping[str, str] | None = None) -> DeploySpec:
    """The ``DeploySpec`` recorded by ``spec_to_json``, with ``secret_env`` values supplied by the caller;
    ``ConfigError`` when the record is not a spec (e.g. written by an older version)."""
    raw = dict(data.get("spec", {}))
    try:
        health = raw.pop("health", None)
        strategy = raw.pop("strategy", None) or {}
        volumes = raw.pop("volumes", None) or []
        spec = DeploySpec(
            **{key: value for key, value in raw.items() if key in DeploySpec.__dataclass_fields__},
            health=_health_from(health),
            strategy=Strategy(**strategy),
            volumes=tuple(Volume(**volume) for volume in volumes),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the release's recorded spec cannot be read: {exc}") from exc
    return replace(spec, ports=tuple(spec.ports), secret_env=dict(secret_env or {}))


def _health_from(data: Mapping[str, Any] | None) -> HealthCheck | None:
    if not data:
        return None
    values = dict(data)
    values["command"] = tuple(values.get("command") or ())
    return HealthCheck(**values)


def branch_environment(branch: str | None, default_branch: str) -> str:
    """The environment of a branch: ``production`` for the default branch, else the branch as a slug."""
    if not branch or branch == default_branch:
        return "production"
    slug = re.sub(r"[^a-z0-9-]+", "-", branch.lower()).strip("-")[:63].strip("-")
    return slug or "production"
