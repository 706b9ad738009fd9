"""Deploy adapter (kubernetes): ``KubernetesTarget``, the ``DeployTarget`` registered as ``kubernetes``.

Contracts (beyond ``shera.deploy.base``):
- Construction does no I/O: the API client is built on first use, from ``api_client_factory`` (a callable
  returning an official-client ``ApiClient``) or else from ``kubeconfig`` (a path; None means in-cluster
  credentials, then $KUBECONFIG / ~/.kube/config).
- ``apply`` applies, in ``APPLY_ORDER``, the rendered manifests plus the Secret ``<app>-<env>-env`` built from
  ``spec.secret_env`` (the only place secret values exist). Every object must live in the tenant's namespace
  ``shera-<tenant>``: a manifest aimed elsewhere is refused before anything is sent.
- ``wait`` polls the Deployment every ``poll_interval`` seconds until it is available, it reports
  ``ProgressDeadlineExceeded``, ``spec.deadline_s`` passes, or ``cancel`` is set (each a ``failed`` status
  with a message). A ``TemporaryError`` while polling is reported to ``out`` and polling goes on.
- ``rollback_to`` re-applies the previous release's manifests (server-side apply removes fields only the
  failed release had) and waits for them.
- ``scale`` merge-patches ``spec.replicas``; ``delete`` removes the Deployment, Service and Secret, and the
  PVCs only with ``volumes=True``; ``live`` returns the live objects keyed like ``render``'s output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shera.deploy.base import DeploySpec, OutputSink, RolloutStatus
from shera.deploy.kubernetes.apply import KubeApi
from shera.deploy.kubernetes.render import (
    APPLY_ORDER,
    LABEL_REVISION,
    LABEL_VOLUME,
    ServiceType,
    namespace_name,
    object_name,
    render_manifests,
    render_secret,
    secret_name,
    selector_labels,
)
from shera.deploy.kubernetes.status import pod_endpoints, rollout_status
from shera.errors import ConfigError, PermanentError, TemporaryError


class KubernetesTarget:
    """Rolls apps out as Deployments (+ Service, PVCs) in the tenant namespace; see the module docstring."""

    name = "kubernetes"

    def __init__(
        self,
        api_client_factory: Callable[[], Any] | None = None,
        kubeconfig: str | Path | None = None,
        *,
        context: str | None = None,
        poll_interval: float = 1.0,
        service_type: ServiceType = "ClusterIP",
        manage_namespace: bool = True,
    ) -> None:
        if service_type not in ("ClusterIP", "NodePort"):
            raise ConfigError(f"kubernetes service type {service_type!r}: use ClusterIP or NodePort")
        self._factory = api_client_factory
        self._kubeconfig = kubeconfig
        self._context = context
        self._poll = max(0.01, poll_interval)
        self._service_type: ServiceType = service_type
        self._manage_namespace = manage_namespace
        self._api: KubeApi | None = None
        self._lock = threading.Lock()

    @property
    def kube(self) -> KubeApi:
        with self._lock:
            if self._api is None:
                if self._factory is not None:
                    self._api = KubeApi(self._factory())
                else:
                    self._api = KubeApi.connect(self._kubeconfig, context=self._context)
            return self._api

    def close(self) -> None:
        """Release the connection pool; safe to call more than once."""
        with self._lock:
            if self._api is not None:
                self._api.close()
                self._api = None

    def render(self, spec: DeploySpec) -> dict[str, Any]:
        manifests = render_manifests(spec, service_type=self._service_type)
        if not self._manage_namespace:
            manifests.pop("namespace.yaml")
        return manifests

    def apply(self, spec: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink) -> None:
        for manifest in _ordered(spec, manifests):
            self.kube.apply(manifest)
            metadata = manifest["metadata"]
            where = f"{metadata['namespace']}/" if "namespace" in metadata else ""
            out(f"applied {manifest['kind']} {where}{metadata['name']}\n".encode())

    def wait(
        self, spec: DeploySpec, *, out: OutputSink, cancel: threading.Event | None = None
    ) -> RolloutStatus:
        deadline = time.monotonic() + spec.deadline_s
        said = ""
        current = RolloutStatus(state="progressing", desired=spec.replicas, message="not observed yet")
        while True:
            try:
                current = self.status(spec)
            except TemporaryError as exc:
                current = RolloutStatus(state="progressing", desired=spec.replicas, message=str(exc))
            if current.message != said:
                said = current.message
                out(f"rollout {current.state}: {said}\n".encode())
            if current.state != "progressing":
                return current
            if cancel is not None and cancel.is_set():
                return _failed(current, f"rollout cancelled ({current.message})")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                deadline_s = f"{spec.deadline_s:g}s"
                return _failed(current, f"not available within the {deadline_s} deadline: {current.message}")
            pause = min(self._poll, remaining)
            if cancel is not None:
                cancel.wait(pause)
            else:
                time.sleep(pause)

    def status(self, spec: DeploySpec) -> RolloutStatus:
        namespace = namespace_name(spec.tenant)
        deployment = self.kube.get("Deployment", namespace, object_name(spec.app, spec.environment))
        if deployment is None:
            name = object_name(spec.app, spec.environment)
            return RolloutStatus(state="failed", desired=spec.replicas, message=f"{name}: not deployed")
        current = rollout_status(deployment, spec.revision)
        if current.state != "available":
            return current
        labels = {**selector_labels(spec.app, spec.environment), LABEL_REVISION: str(spec.revision)}
        pods = self.kube.select("Pod", namespace, labels)
        endpoints = pod_endpoints(pods, spec.ports[0] if spec.ports else None)
        return RolloutStatus(
            state=current.state,
            ready=current.ready,
            desired=current.desired,
            message=current.message,
            endpoints=endpoints,
        )

    def rollback_to(
        self, previous: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink
    ) -> RolloutStatus:
        out(f"rolling back {previous.app}/{previous.environment} to revision {previous.revision}\n".encode())
        self.apply(previous, manifests, out=out)
        return self.wait(previous, out=out)

    def scale(self, tenant: str, app: str, environment: str, replicas: int) -> RolloutStatus:
        if replicas < 0:
            raise ConfigError(f"cannot scale {app}/{environment} to {replicas} replicas")
        patch = {"spec": {"replicas": replicas}}
        scaled = self.kube.merge_patch(
            "Deployment", namespace_name(tenant), object_name(app, environment), patch
        )
        return rollout_status(scaled)

    def delete(self, tenant: str, app: str, environment: str, *, volumes: bool = False) -> None:
        namespace = namespace_name(tenant)
        name = object_name(app, environment)
        self.kube.delete("Deployment", namespace, name)
        self.kube.delete("Service", namespace, name)
        self.kube.delete("Secret", namespace, secret_name(app, environment))
        if volumes:
            for claim in self.kube.select(
                "PersistentVolumeClaim", namespace, selector_labels(app, environment)
            ):
                self.kube.delete("PersistentVolumeClaim", namespace, claim["metadata"]["name"])

    def live(self, tenant: str, app: str, environment: str) -> dict[str, Any] | None:
        namespace = namespace_name(tenant)
        name = object_name(app, environment)
        found: dict[str, Any] = {}
        for claim in self.kube.select("PersistentVolumeClaim", namespace, selector_labels(app, environment)):
            volume = (claim["metadata"].get("labels") or {}).get(LABEL_VOLUME, claim["metadata"]["name"])
            found[f"volume-{volume}.yaml"] = claim
        for key, kind in (("deployment.yaml", "Deployment"), ("service.yaml", "Service")):
            obj = self.kube.get(kind, namespace, name)
            if obj is not None:
                found[key] = obj
        return found or None


def _ordered(spec: DeploySpec, manifests: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The objects to apply, checked to stay in the tenant namespace, with the Secret, in ``APPLY_ORDER``."""
    namespace = namespace_name(spec.tenant)
    objects: list[Mapping[str, Any]] = []
    for key, manifest in manifests.items():
        kind = manifest.get("kind") if isinstance(manifest, Mapping) else None
        if kind not in APPLY_ORDER:
            raise PermanentError(f"manifest {key!r}: kind {kind!r} is not one of {', '.join(APPLY_ORDER)}")
        metadata = manifest.get("metadata") or {}
        target = metadata.get("name") if kind == "Namespace" else metadata.get("namespace")
        if target != namespace:
            raise PermanentError(
                f"manifest {key!r}: {kind} {metadata.get('name')!r} is outside the tenant namespace "
                f"{namespace!r}"
            )
        objects.append(manifest)
    secret = render_secret(spec)
    if secret is not None:
        objects.append(secret)
    return sorted(objects, key=lambda obj: (APPLY_ORDER.index(obj["kind"]), obj["metadata"]["name"]))


def _failed(current: RolloutStatus, message: str) -> RolloutStatus:
    return RolloutStatus(state="failed", ready=current.ready, desired=current.desired, message=message)
