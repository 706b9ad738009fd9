"""Deploy adapter (kubernetes): pure renderers DeploySpec → Namespace, PVC, Deployment, Service, Secret dicts.

Contracts:
- Every function here is pure and deterministic: the same spec gives equal dicts (and the same key order),
  so the rendered manifests can be stored in the deploy repository and compared byte for byte.
- ``render_manifests`` never contains a secret value: secret variables become ``secretKeyRef`` entries that
  point at the Secret ``<app>-<env>-env``; that Secret (``render_secret``) is built by the apply step only.
- Names that Kubernetes would refuse raise ``ConfigError`` naming the app/environment/volume at fault.

Naming: namespace ``shera-<tenant>``; Deployment and Service ``<app>-<env>``; PVC ``<app>-<env>-<volume>``.
Labels carry identity (selectable): ``app.kubernetes.io/name``, ``app.kubernetes.io/managed-by``,
``shera.io/tenant``, ``shera.io/app``, ``shera.io/environment``, ``shera.io/revision``. Annotations carry
provenance (values that are not valid label values, e.g. ``sha256:…`` digests): ``shera.io/sha``,
``shera.io/run``, ``shera.io/digest``, ``shera.io/image``. The Deployment selector uses only the stable
labels (app, environment): a selector is immutable, a revision is not.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from shera.deploy.base import DeploySpec, HealthCheck, Volume
from shera.errors import ConfigError

ServiceType = Literal["ClusterIP", "NodePort"]

MANAGER = "shera"
APPLY_ORDER = ("Namespace", "Secret", "PersistentVolumeClaim", "Deployment", "Service")
"""Kinds in the order they are applied: each one only refers to kinds before it."""

LABEL_NAME = "app.kubernetes.io/name"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_TENANT = "shera.io/tenant"
LABEL_APP = "shera.io/app"
LABEL_ENV = "shera.io/environment"
LABEL_REVISION = "shera.io/revision"
LABEL_VOLUME = "shera.io/volume"

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def namespace_name(tenant: str) -> str:
    return _checked(f"shera-{tenant}", _DNS_LABEL, f"namespace of tenant {tenant!r}")


def object_name(app: str, environment: str) -> str:
    """The Deployment and Service name; a Service name must be a DNS label (≤ 63, starts with a letter)."""
    return _checked(f"{app}-{environment}", _DNS_LABEL, f"app {app!r} in environment {environment!r}")


def secret_name(app: str, environment: str) -> str:
    return f"{object_name(app, environment)}-env"


def claim_name(app: str, environment: str, volume: str) -> str:
    where = f"volume {volume!r} of app {app!r} in environment {environment!r}"
    return _checked(f"{object_name(app, environment)}-{volume}", _DNS_SUBDOMAIN, where)


def selector_labels(app: str, environment: str) -> dict[str, str]:
    """The labels that select an app's Pods in one environment, whatever their revision."""
    return {LABEL_NAME: app, LABEL_APP: app, LABEL_ENV: environment}


def identity_labels(spec: DeploySpec) -> dict[str, str]:
    return {
        **selector_labels(spec.app, spec.environment),
        LABEL_MANAGED_BY: MANAGER,
        LABEL_TENANT: spec.tenant,
        LABEL_REVISION: str(spec.revision),
    }


def provenance_annotations(spec: DeploySpec) -> dict[str, str]:
    given = {
        "shera.io/sha": spec.sha,
        "shera.io/run": spec.run_id,
        "shera.io/digest": spec.digest,
        "shera.io/image": spec.image,
    }
    return {key: value for key, value in given.items() if value}


def pinned_image(image: str, digest: str | None) -> str:
    """``repo[:tag]`` pinned to ``repo@digest`` when the digest is known; otherwise ``image`` unchanged."""
    if not digest:
        return image
    name = image.split("@", 1)[0]
    if name.rfind(":") > name.rfind("/"):
        name = name[: name.rfind(":")]
    return f"{name}@{digest}"


def port_name(port: int) -> str:
    return f"p{port}"


def render_manifests(spec: DeploySpec, *, service_type: ServiceType = "ClusterIP") -> dict[str, Any]:
    """The manifests of one release, keyed by file name, in apply order (see ``APPLY_ORDER``)."""
    manifests: dict[str, Any] = {"namespace.yaml": render_namespace(spec.tenant)}
    for volume in spec.volumes:
        manifests[f"volume-{volume.name}.yaml"] = render_claim(spec, volume)
    manifests["deployment.yaml"] = render_deployment(spec)
    if spec.ports:
        manifests["service.yaml"] = render_service(spec, service_type=service_type)
    return manifests


def render_namespace(tenant: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_name(tenant),
            "labels": {LABEL_MANAGED_BY: MANAGER, LABEL_TENANT: tenant},
        },
    }


def render_claim(spec: DeploySpec, volume: Volume) -> dict[str, Any]:
    """A PVC that outlives revisions (no revision label): RWX on the shared class, else RWO on the default."""
    body: dict[str, Any] = {
        "accessModes": ["ReadWriteMany" if volume.shared else "ReadWriteOnce"],
        "resources": {"requests": {"storage": volume.size}},
    }
    if volume.shared:
        body["storageClassName"] = spec.shared_storage_class
    labels = {key: value for key, value in identity_labels(spec).items() if key != LABEL_REVISION}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": claim_name(spec.app, spec.environment, volume.name),
            "namespace": namespace_name(spec.tenant),
            "labels": {**labels, LABEL_VOLUME: volume.name},
        },
        "spec": body,
    }


def render_deployment(spec: DeploySpec) -> dict[str, Any]:
    name = object_name(spec.app, spec.environment)
    labels = identity_labels(spec)
    annotations = provenance_annotations(spec)
    pod: dict[str, Any] = {"containers": [_container(spec)]}
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    if spec.volumes:
        pod["volumes"] = [
            {
                "name": volume.name,
                "persistentVolumeClaim": {"claimName": claim_name(spec.app, spec.environment, volume.name)},
            }
            for volume in spec.volumes
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace_name(spec.tenant),
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "replicas": spec.replicas,
            "progressDeadlineSeconds": max(1, math.ceil(spec.deadline_s)),
            "selector": {"matchLabels": selector_labels(spec.app, spec.environment)},
            "strategy": _strategy(spec),
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod},
        },
    }


def render_service(spec: DeploySpec, *, service_type: ServiceType = "ClusterIP") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": object_name(spec.app, spec.environment),
            "namespace": namespace_name(spec.tenant),
            "labels": identity_labels(spec),
        },
        "spec": {
            "type": service_type,
            "selector": selector_labels(spec.app, spec.environment),
            "ports": [
                {"name": port_name(port), "port": port, "targetPort": port_name(port), "protocol": "TCP"}
                for port in spec.ports
            ],
        },
    }


def render_secret(spec: DeploySpec) -> dict[str, Any] | None:
    """The Secret holding ``spec.secret_env`` (stringData), or None without secrets. Apply-time only."""
    if not spec.secret_env:
        return None
    labels = {key: value for key, value in identity_labels(spec).items() if key != LABEL_REVISION}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(spec.app, spec.environment),
            "namespace": namespace_name(spec.tenant),
            "labels": labels,
        },
        "type": "Opaque",
        "stringData": {key: spec.secret_env[key] for key in sorted(spec.secret_env)},
    }


def _container(spec: DeploySpec) -> dict[str, Any]:
    container: dict[str, Any] = {"name": spec.app, "image": pinned_image(spec.image, spec.digest)}
    if spec.ports:
        container["ports"] = [
            {"name": port_name(port), "containerPort": port, "protocol": "TCP"} for port in spec.ports
        ]
    env: list[dict[str, Any]] = [{"name": key, "value": value} for key, value in spec.env.items()]
    secret = secret_name(spec.app, spec.environment)
    env += [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for key in sorted(spec.secret_env)
    ]
    if env:
        container["env"] = env
    resources = {
        section: {key: str(value) for key, value in dict(spec.resources[section]).items()}
        for section in ("requests", "limits")
        if spec.resources.get(section)
    }
    if resources:
        container["resources"] = resources
    if spec.health is not None:
        container["readinessProbe"] = _probe(spec.health, spec)
        container["livenessProbe"] = _probe(spec.health, spec)
    if spec.volumes:
        container["volumeMounts"] = [
            {"name": volume.name, "mountPath": volume.mount} for volume in spec.volumes
        ]
    return container


def _probe(health: HealthCheck, spec: DeploySpec) -> dict[str, Any]:
    if health.kind == "exec":
        if not health.command:
            raise ConfigError(f"app {spec.app!r}: an exec health check needs a command")
        action: dict[str, Any] = {"exec": {"command": list(health.command)}}
    else:
        port = health.port if health.port is not None else (spec.ports[0] if spec.ports else None)
        if port is None:
            raise ConfigError(f"app {spec.app!r}: a {health.kind} health check needs a port (none in ports)")
        if health.kind == "http":
            action = {"httpGet": {"path": health.path, "port": port}}
        else:
            action = {"tcpSocket": {"port": port}}
    return {
        **action,
        "initialDelaySeconds": math.ceil(health.initial_delay_s),
        "timeoutSeconds": max(1, math.ceil(health.timeout_s)),
        "periodSeconds": max(1, math.ceil(health.interval_s)),
    }


def _strategy(spec: DeploySpec) -> dict[str, Any]:
    if spec.strategy.kind == "recreate":
        return {"type": "Recreate"}
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {
            "maxSurge": spec.strategy.max_surge,
            "maxUnavailable": spec.strategy.max_unavailable,
        },
    }


def _checked(name: str, pattern: re.Pattern[str], where: str) -> str:
    if not pattern.match(name):
        rule = "a DNS label: at most 63 characters, a-z 0-9 and '-', starting with a letter"
        if pattern is _DNS_SUBDOMAIN:
            rule = "a DNS subdomain: at most 253 characters, a-z 0-9 '-' and '.'"
        raise ConfigError(f"{where}: Kubernetes name {name!r} is not valid; it must be {rule}")
    return name
