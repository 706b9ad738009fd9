"""Deploy layer (podman target): ``PodmanTarget``, the embedded default ``DeployTarget``.

Each instance is a container on this machine (see ``instances``), reachable on an allocated 127.0.0.1 port;
She-Ra polls health (``health``) and drives rolling replacement itself (``rollout``); per app/environment
state — the live revision, its manifest, every instance with its ports and whether it serves — is a JSON
file under ``state_dir`` (``state``), so another process (``shera exec --data-dir D``, ``shera down``,
the CLI) finds the endpoints without podman.

``apply`` starts the rollout in a background thread and returns; ``wait`` joins it (or, in a process that did
not start it, polls ``status``). ``rollback_to`` runs synchronously and starts all the previous revision's
instances at once: their image is still in local storage (this target never removes images), so it serves
again well within 2 s. A failed rollout never touches the instances that serve.

``network`` is ``slirp4netns`` (default: container ports published on 127.0.0.1 ports) or ``host`` (the app
binds ``127.0.0.1:$PORT``); see ``instances``. Without ``env`` the target uses She-Ra's own podman
configuration under ``data_dir`` (as the podman executor does); ``state_dir`` defaults to
``<data_dir>/deploy/podman``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shera.deploy.base import DeploySpec, Endpoint, OutputSink, RolloutStatus
from shera.deploy.podman.health import probe
from shera.deploy.podman.instances import Instances, Network, slirp_socket_problem
from shera.deploy.podman.observe import observe
from shera.deploy.podman.render import APP_LABEL, ENV_LABEL, TENANT_LABEL, Template, render
from shera.deploy.podman.rollout import Rollout, endpoints_of, secret_values
from shera.deploy.podman.state import StateStore
from shera.errors import PermanentError, TemporaryError
from shera.executors.podman_cli import PodmanCli
from shera.executors.podman_config import default_data_dir, podman_environment

POLL_S = 0.2
Key = tuple[str, str, str]


def _discard(_chunk: bytes) -> None:
    return None


@dataclass
class _Running:
    """A rollout started by ``apply`` in this process."""

    revision: int
    cancel: threading.Event
    thread: threading.Thread | None = None
    result: RolloutStatus | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class PodmanTarget:
    """Deploys apps as podman containers on this machine; see the module docstring."""

    name = "podman"

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        state_dir: Path | None = None,
        stop_grace_s: float = 5.0,
        drain_s: float = 0.5,
        network: Network = "slirp4netns",
    ) -> None:
        self._explicit_env = None if env is None else dict(env)
        self._data_dir = data_dir
        self.state_dir = state_dir or (data_dir or default_data_dir()) / "deploy" / "podman"
        self.store = StateStore(self.state_dir)
        self.stop_grace_s = stop_grace_s
        self.drain_s = drain_s
        self.network: Network = network
        self._instances: Instances | None = None
        self._running: dict[Key, _Running] = {}
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def instances(self) -> Instances:
        """The podman adapter, made on first use (``render`` needs no podman and writes nothing)."""
        if self._instances is None:
            env = self._explicit_env if self._explicit_env is not None else podman_environment(self._data_dir)
            self._instances = Instances(PodmanCli(env), self.state_dir / "envfiles", self.network)
        return self._instances

    def _rollout(self, out: OutputSink, cancel: threading.Event | None = None) -> Rollout:
        return Rollout(
            self.instances,
            self.store,
            out=out,
            stop_grace_s=self.stop_grace_s,
            drain_s=self.drain_s,
            cancel=cancel,
        )

    def _prepare(self, spec: DeploySpec, manifests: Mapping[str, Any]) -> Template:
        """The manifests parsed and checked against ``spec``; their volumes created."""
        template = Template.parse(manifests)
        if self.network == "slirp4netns" and template.ports:
            conf = self.instances.cli.env.get("CONTAINERS_CONF")
            problem = slirp_socket_problem(Path(conf) if conf else None)
            if problem:
                raise PermanentError(problem)
        ours = (spec.tenant, spec.app, spec.environment, spec.revision)
        theirs = (template.tenant, template.app, template.environment, template.revision)
        if ours != theirs:
            raise PermanentError(f"the manifests are for {theirs}, not for the spec's {ours}")
        for volume in template.volumes:
            if template.replicas > 1 and not volume.shared:
                raise PermanentError(
                    f"volume {volume.name!r} is not shared but replicas is {template.replicas}: "
                    "only one instance could mount it"
                )
        labels = {k: v for k, v in template.labels.items() if k in (TENANT_LABEL, APP_LABEL, ENV_LABEL)}
        for name, _mount in template.volume_mounts():
            self.instances.ensure_volume(name, labels)
        return template

    # -- protocol -------------------------------------------------------------------------------------

    def render(self, spec: DeploySpec) -> dict[str, Any]:
        return render(spec)

    def apply(self, spec: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink) -> None:
        template = self._prepare(spec, manifests)
        env = secret_values(template, spec.secret_env)
        key = (spec.tenant, spec.app, spec.environment)
        with self._lock:
            current = self._running.get(key)
            if current is not None and not current.done.is_set():
                raise TemporaryError(
                    f"a rollout of {'/'.join(key)} is in progress (revision {current.revision})"
                )
            running = self._running[key] = _Running(revision=spec.revision, cancel=threading.Event())
        recreate = template.strategy.get("kind") == "recreate"

        def work() -> None:
            try:
                rollout = self._rollout(out, running.cancel)
                running.result = rollout.converge(template, manifests, env, recreate=recreate)
            except BaseException as exc:  # handed to wait(), which re-raises it in the caller's thread
                running.error = exc
            finally:
                running.done.set()

        running.thread = threading.Thread(target=work, name=f"shera-rollout-{'-'.join(key)}", daemon=True)
        running.thread.start()

    def wait(
        self, spec: DeploySpec, *, out: OutputSink, cancel: threading.Event | None = None
    ) -> RolloutStatus:
        key = (spec.tenant, spec.app, spec.environment)
        running = self._running.get(key)
        if running is None or running.revision != spec.revision:
            return self._poll(spec, cancel)
        while not running.done.wait(POLL_S):
            if cancel is not None and cancel.is_set():
                running.cancel.set()
        if running.error is not None:
            raise running.error
        if running.result is None:
            raise TemporaryError(f"the rollout of revision {spec.revision} ended without a result")
        return running.result

    def _poll(self, spec: DeploySpec, cancel: threading.Event | None) -> RolloutStatus:
        deadline = time.monotonic() + spec.deadline_s
        while True:
            status = self.status(spec)
            if status.state == "available" or time.monotonic() >= deadline:
                return status
            if cancel is not None and cancel.wait(POLL_S):
                return status
            if cancel is None:
                time.sleep(POLL_S)

    def _ready_endpoints(self, state: dict[str, Any], template: Template | None) -> list[Endpoint]:
        """The serving instances that run and pass one health probe now."""
        if template is None:
            return []
        tenant, app, environment = state["tenant"], state["app"], state["environment"]
        running = {i.name for i in self.instances.find(tenant, app, environment) if i.running}
        ready = []
        for endpoint in endpoints_of(state):
            if endpoint.instance in running:
                ports = {int(c): int(h) for c, h in state["instances"][endpoint.instance]["ports"].items()}
                if probe(
                    template.health, ports, functools.partial(self.instances.exec, endpoint.instance)
                ).ok:
                    ready.append(endpoint)
        return ready

    def status(self, spec: DeploySpec) -> RolloutStatus:
        """The live revision's health now: the serving instances that pass a probe are the endpoints."""
        state = self.store.load(spec.tenant, spec.app, spec.environment)
        manifests = state.get("manifests")
        template = Template.parse(manifests) if manifests else None
        endpoints = self._ready_endpoints(state, template)
        ready = sum(1 for e in endpoints if state["instances"][e.instance]["revision"] == state["revision"])
        desired = template.replicas if template else spec.replicas
        in_flight = self._running.get((spec.tenant, spec.app, spec.environment))
        if in_flight is not None and in_flight.revision == spec.revision and not in_flight.done.is_set():
            return RolloutStatus(
                "progressing", ready, desired, f"rolling out revision {spec.revision}", tuple(endpoints)
            )
        if state["revision"] != spec.revision:
            message = f"revision {spec.revision} is not live (live: {state['revision']})"
            return RolloutStatus("failed", ready, desired, message, tuple(endpoints))
        if ready >= desired:
            return RolloutStatus(
                "available", ready, desired, f"revision {spec.revision} is live", tuple(endpoints)
            )
        return RolloutStatus(
            "failed", ready, desired, f"{ready} of {desired} instances ready", tuple(endpoints)
        )

    def rollback_to(
        self, previous: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink
    ) -> RolloutStatus:
        key = (previous.tenant, previous.app, previous.environment)
        running = self._running.get(key)
        if running is not None and not running.done.is_set():
            running.cancel.set()
            running.done.wait()
        template = self._prepare(previous, manifests)
        env = secret_values(template, previous.secret_env)
        return self._rollout(out).converge(template, manifests, env, surge=template.replicas)

    def scale(self, tenant: str, app: str, environment: str, replicas: int) -> RolloutStatus:
        if replicas < 0:
            raise PermanentError(f"replicas must be 0 or more, not {replicas}")
        state = self.store.load(tenant, app, environment)
        if state["revision"] is None or not state["manifests"]:
            raise PermanentError(f"{app} has nothing live in {environment} to scale")
        manifests = {**state["manifests"], "replicas": replicas}
        template = Template.parse(manifests)
        if replicas > 1 and any(not v.shared for v in template.volumes):
            raise PermanentError(f"{app} has a volume that is not shared: it cannot run {replicas} instances")
        given: dict[str, str] = {}
        if template.secrets and replicas > 0:
            siblings = [
                n
                for n, r in state["instances"].items()
                if r.get("serving") and r["revision"] == template.revision
            ]
            given = self.instances.env_of(siblings[0]) if siblings else {}
        env = secret_values(template, given)
        return self._rollout(_discard).converge(template, manifests, env, surge=max(1, replicas))

    def delete(self, tenant: str, app: str, environment: str, *, volumes: bool = False) -> None:
        """Stop and remove every instance and forget the state; the volumes too only when ``volumes``."""
        running = self._running.get((tenant, app, environment))
        if running is not None and not running.done.is_set():
            running.cancel.set()
            running.done.wait()
        for instance in self.instances.find(tenant, app, environment):
            self.instances.stop(instance.name, self.stop_grace_s)
        self.store.remove(tenant, app, environment)
        if volumes:
            for name in self.instances.volumes(tenant, app, environment):
                self.instances.remove_volume(name)

    def live(self, tenant: str, app: str, environment: str) -> dict[str, Any] | None:
        state = self.store.load(tenant, app, environment)
        return observe(self.instances, state)

    # -- beyond the protocol --------------------------------------------------------------------------

    def endpoints(self, tenant: str, app: str, environment: str) -> tuple[Endpoint, ...]:
        """The serving instances as recorded in the state file (no podman call: cheap, any process)."""
        return endpoints_of(self.store.load(tenant, app, environment))
