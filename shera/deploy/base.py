"""Deploy layer: the protocol every deploy target implements, and the data it takes and returns.

Call order for one deployment (the deploy service guarantees it)::

    manifests = target.render(spec)                 # pure: same spec → byte-identical manifests
    target.apply(spec, manifests, out=out)          # starts the rollout; returns quickly
    status = target.wait(spec, out=out, cancel=c)   # until available, failed, or spec.deadline_s passed
    # on failure, with an earlier live release `prev` (and rollback: auto):
    target.rollback_to(prev_spec, prev_manifests, out=out)   # re-apply the previous release and wait for it

Contracts:
- ``render`` is pure and deterministic; it never reads the live state. Its result is what the release records
  and what the deploy repository stores (no secret values in it: secrets are referenced by name).
- ``apply`` is idempotent: applying the same manifests twice changes nothing the second time.
- ``wait`` returns a ``RolloutStatus`` with state ``available`` or ``failed``; it never raises for a rollout
  that fails (that is a status). It honours ``cancel`` and the deadline.
- ``rollback_to`` must leave the previous release serving; on the podman target old instances keep serving
  until new ones are healthy, so a failed rollout never interrupts the live version.
- Every method raises only ``shera.errors`` types (SDK errors are translated inside the adapter);
  ``TemporaryError`` may be retried, ``PermanentError`` not.
- ``scale``, ``delete`` and ``live`` act on (tenant, app, environment) regardless of revision.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

OutputSink = Callable[[bytes], None]

DEPLOY_TARGETS = "shera.deploy_targets"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """How an instance proves it serves: ``http``: GET ``path`` on ``port`` answers 2xx/3xx; ``tcp``: a
    connection to ``port`` opens; ``exec``: ``command`` run in the instance exits 0."""

    kind: Literal["http", "tcp", "exec"]
    port: int | None = None
    path: str = "/"
    command: tuple[str, ...] = ()
    initial_delay_s: float = 0.0
    timeout_s: float = 2.0
    interval_s: float = 1.0


@dataclass(frozen=True, slots=True)
class Volume:
    """A volume mounted at ``mount``; ``shared`` means ReadWriteMany (the platform's CephFS storage class)."""

    name: str
    mount: str
    size: str = "1Gi"
    shared: bool = False


@dataclass(frozen=True, slots=True)
class Strategy:
    kind: Literal["rolling", "recreate"] = "rolling"
    max_surge: int | str = 1
    max_unavailable: int | str = 0


@dataclass(frozen=True, slots=True)
class DeploySpec:
    """Everything a target needs to roll out one revision. ``image`` is the reference to run (pinned by
    digest when known); ``secret_env`` holds resolved secret values for the target to inject — they are never
    rendered into manifests (Kubernetes references a Secret by name instead)."""

    tenant: str
    app: str
    environment: str
    revision: int
    image: str
    digest: str | None = None
    sha: str | None = None
    run_id: str | None = None
    replicas: int = 1
    ports: tuple[int, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)
    health: HealthCheck | None = None
    strategy: Strategy = field(default_factory=Strategy)
    volumes: tuple[Volume, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    deadline_s: float = 120.0
    shared_storage_class: str = "cephfs"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one ready instance of the app can be reached (what exposure renders upstreams from)."""

    host: str
    port: int
    instance: str
    node: str | None = None
    ready: bool = True


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    state: Literal["progressing", "available", "failed"]
    ready: int = 0
    desired: int = 0
    message: str = ""
    endpoints: tuple[Endpoint, ...] = ()


@runtime_checkable
class DeployTarget(Protocol):
    """Rolls one app out on one platform; see the module docstring for call order and contracts."""

    name: str

    def render(self, spec: DeploySpec) -> dict[str, Any]: ...

    def apply(self, spec: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink) -> None: ...

    def wait(
        self, spec: DeploySpec, *, out: OutputSink, cancel: threading.Event | None = None
    ) -> RolloutStatus: ...

    def status(self, spec: DeploySpec) -> RolloutStatus: ...

    def rollback_to(
        self, previous: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink
    ) -> RolloutStatus: ...

    def scale(self, tenant: str, app: str, environment: str, replicas: int) -> RolloutStatus: ...

    def delete(self, tenant: str, app: str, environment: str) -> None: ...

    def live(self, tenant: str, app: str, environment: str) -> dict[str, Any] | None: ...
