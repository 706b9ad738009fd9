"""Deploy layer (podman target): what actually runs, shaped like ``render()`` output (for drift).

``observe`` reads the running instances of an app/environment from podman and returns the manifest keys
that podman can show: ``kind``, ``tenant``, ``app``, ``environment``, ``revision``, ``image``, ``replicas``,
``ports``, ``env``, ``secrets``, ``volumes``, ``labels``, ``instances``. A drift check compares these keys
of ``render()`` with ``observe()``; health, strategy, deadline and resources are not observable and absent.

``env`` holds the recorded manifest's plain variables as the containers have them (image defaults such as
``PATH`` are left out; a variable removed from a container shows as missing); ``secrets`` the recorded
secret names present in the containers, never their values. When instances of several revisions or images
run (mid-rollout, or drift), ``revision``/``image`` are lists. With host networking podman publishes no
ports: ``ports`` then come from the instance's record.
"""

from __future__ import annotations

from typing import Any

from shera.deploy.podman.instances import Instances
from shera.deploy.podman.render import INSTANCE_LABEL, KIND, LABEL_PREFIX, base_name
from shera.deploy.podman.state import AppState


def _one_or_all(values: list[Any]) -> Any:
    distinct = sorted(set(values), key=str)
    return distinct[0] if len(distinct) == 1 else distinct


def observe(instances: Instances, state: AppState) -> dict[str, Any] | None:
    """The running instances of ``state``'s app/environment as a manifest-shaped dict; ``None`` if none."""
    tenant, app, environment = state["tenant"], state["app"], state["environment"]
    running = [i for i in instances.find(tenant, app, environment) if i.running]
    if not running:
        return None
    manifests = state.get("manifests") or {}
    details = {item.get("Name"): item for item in instances.inspect([i.name for i in running])}
    env_keys = list((manifests.get("env") or {}).keys())
    secret_keys = list(manifests.get("secrets") or [])
    shared = {v.get("volume"): bool(v.get("shared")) for v in manifests.get("volumes") or []}
    first = details.get(running[0].name, {})
    prefix = base_name(tenant, app, environment) + "-"
    declared = [int(p) for p in manifests.get("ports") or []]
    record = state["instances"].get(running[0].name, {})
    seen = set(running[0].ports) or {int(port) for port in record.get("ports", {})}
    ports = [p for p in declared if p in seen] + sorted(seen - set(declared))
    pairs = (first.get("Config") or {}).get("Env") or []
    container_env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    volumes = [
        {
            "name": str(mount.get("Name", "")).removeprefix(prefix),
            "volume": mount.get("Name"),
            "mount": mount.get("Destination"),
            "shared": shared.get(mount.get("Name"), False),
        }
        for mount in first.get("Mounts") or []
        if mount.get("Type") == "volume"
    ]
    labels = {
        key: value
        for key, value in running[0].labels.items()
        if key.startswith(LABEL_PREFIX) and key != INSTANCE_LABEL
    }
    return {
        "kind": KIND,
        "tenant": tenant,
        "app": app,
        "environment": environment,
        "revision": _one_or_all([i.revision for i in running]),
        "image": _one_or_all([i.image for i in running]),
        "replicas": len(running),
        "ports": ports,
        "env": {key: container_env[key] for key in sorted(env_keys) if key in container_env},
        "secrets": sorted(key for key in secret_keys if key in container_env),
        "volumes": sorted(volumes, key=lambda v: str(v["mount"])),
        "labels": labels,
        "instances": sorted(i.name for i in running),
    }
