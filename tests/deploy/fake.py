"""Test double: an in-memory deploy target that records every call (not a stub of a real platform).

Rollouts of an image listed in ``failing`` end ``failed`` (like a health check that never passes); all others
become ``available`` with one endpoint per replica. ``objects`` is what ``live`` reports, so tests can
create drift by editing it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shera.deploy.base import DEPLOY_TARGETS, DeploySpec, Endpoint, OutputSink, RolloutStatus
from shera.deploy.service import DeployService
from shera.deploy.targets import Targets
from shera.gitops.deployrepo import DeployRepo
from shera.plugins import Registry
from shera.store.db import Database

Key = tuple[str, str, str]


class FakeTarget:
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.failing: set[str] = set()
        self.objects: dict[Key, dict[str, Any]] = {}
        self.serving: dict[Key, int] = {}

    def render(self, spec: DeploySpec) -> dict[str, Any]:
        return {
            f"Deployment/{spec.app}": {
                "kind": "Deployment",
                "metadata": {"name": spec.app, "labels": {"revision": str(spec.revision)}},
                "spec": {"image": spec.image, "replicas": spec.replicas, "env": dict(spec.env)},
            },
            f"Service/{spec.app}": {"kind": "Service", "ports": list(spec.ports)},
        }

    def _status(self, spec: DeploySpec, replicas: int | None = None) -> RolloutStatus:
        count = spec.replicas if replicas is None else replicas
        endpoints = tuple(
            Endpoint("127.0.0.1", 40000 + spec.revision * 10 + i, f"{spec.app}-{spec.revision}-{i}")
            for i in range(count)
        )
        return RolloutStatus("available", ready=count, desired=count, endpoints=endpoints)

    def apply(self, spec: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink) -> None:
        self.calls.append(("apply", spec.app, spec.environment, spec.revision, dict(spec.secret_env)))
        out(f"applied revision {spec.revision}\n".encode())
        self._pending = (spec, copy.deepcopy(dict(manifests)))

    def wait(
        self, spec: DeploySpec, *, out: OutputSink, cancel: threading.Event | None = None
    ) -> RolloutStatus:
        self.calls.append(("wait", spec.app, spec.environment, spec.revision))
        if spec.image in self.failing:
            return RolloutStatus("failed", message="health check never passed")
        key = (spec.tenant, spec.app, spec.environment)
        self.objects[key] = self._pending[1]
        self.serving[key] = spec.revision
        return self._status(spec)

    def status(self, spec: DeploySpec) -> RolloutStatus:
        return self._status(spec)

    def rollback_to(
        self, previous: DeploySpec, manifests: Mapping[str, Any], *, out: OutputSink
    ) -> RolloutStatus:
        self.calls.append(("rollback_to", previous.app, previous.environment, previous.revision))
        key = (previous.tenant, previous.app, previous.environment)
        self.objects[key] = copy.deepcopy(dict(manifests))
        self.serving[key] = previous.revision
        return self._status(previous)

    def scale(self, tenant: str, app: str, environment: str, replicas: int) -> RolloutStatus:
        self.calls.append(("scale", app, environment, replicas))
        for obj in self.objects.get((tenant, app, environment), {}).values():
            if obj.get("kind") == "Deployment":
                obj["spec"]["replicas"] = replicas
        return RolloutStatus("available", ready=replicas, desired=replicas)

    def delete(self, tenant: str, app: str, environment: str) -> None:
        self.calls.append(("delete", app, environment))
        self.objects.pop((tenant, app, environment), None)
        self.serving.pop((tenant, app, environment), None)

    def live(self, tenant: str, app: str, environment: str) -> dict[str, Any] | None:
        found = self.objects.get((tenant, app, environment))
        return copy.deepcopy(found) if found is not None else None


def fake_service(db: Database, root: Path) -> tuple[DeployService, FakeTarget]:
    """A deploy service over ``db`` whose only target, ``fake``, is a new ``FakeTarget``; the deploy
    repository and lock files live under ``root``."""
    target = FakeTarget()
    registry = Registry()
    registry.register(DEPLOY_TARGETS, "fake", target)
    service = DeployService(db, Targets(registry), DeployRepo(root / "deploy.git"), lock_dir=root / "locks")
    return service, target
