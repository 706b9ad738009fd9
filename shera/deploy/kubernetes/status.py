"""Deploy adapter (kubernetes): pure reading of a live Deployment's rollout state and its Pods' endpoints.

The rules follow ``kubectl rollout status``: nothing counts until the controller has observed the current
spec (``status.observedGeneration >= metadata.generation``) — so a ``ProgressDeadlineExceeded`` left over
from an earlier failed rollout never fails the next one; then the rollout is available when every desired
replica is updated, no old replica is left, and every updated replica is available.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shera.deploy.base import Endpoint, RolloutStatus
from shera.deploy.kubernetes.render import LABEL_REVISION

DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


def rollout_status(deployment: Mapping[str, Any], revision: int | None = None) -> RolloutStatus:
    """The state of ``deployment``; with ``revision``, a Deployment now labelled with another revision
    (a later deploy replaced it) is ``failed`` for this one. No endpoints: see ``pod_endpoints``."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = metadata.get("name", "?")
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)

    def state(kind: Any, message: str) -> RolloutStatus:
        return RolloutStatus(state=kind, ready=available, desired=desired, message=f"{name}: {message}")

    live_revision = (metadata.get("labels") or {}).get(LABEL_REVISION)
    if revision is not None and live_revision != str(revision):
        return state("failed", f"runs revision {live_revision}, not {revision} (replaced by another deploy)")
    generation = int(metadata.get("generation") or 0)
    observed = status.get("observedGeneration")
    if observed is None or int(observed) < generation:
        return state("progressing", f"waiting for the controller to observe generation {generation}")
    for condition in status.get("conditions") or ():
        if condition.get("type") == "Progressing" and condition.get("reason") == DEADLINE_EXCEEDED:
            detail = condition.get("message") or "the rollout made no progress"
            return state("failed", f"progress deadline exceeded: {detail}")
    if updated < desired:
        return state("progressing", f"{updated} of {desired} replicas updated")
    if total > updated:
        return state("progressing", f"{total - updated} old replicas pending termination")
    if available < updated:
        return state("progressing", f"{available} of {updated} updated replicas available")
    return state("available", f"{available} of {desired} replicas available")


def pod_endpoints(pods: Iterable[Mapping[str, Any]], port: int | None) -> tuple[Endpoint, ...]:
    """One endpoint per ready Pod (Ready condition True, an IP, not being deleted), sorted by Pod name."""
    if port is None:
        return ()
    found = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        status = pod.get("status") or {}
        ready = any(
            condition.get("type") == "Ready" and condition.get("status") == "True"
            for condition in status.get("conditions") or ()
        )
        if ready and status.get("podIP") and not metadata.get("deletionTimestamp"):
            node = (pod.get("spec") or {}).get("nodeName")
            found.append(Endpoint(host=status["podIP"], port=port, instance=metadata["name"], node=node))
    return tuple(sorted(found, key=lambda endpoint: endpoint.instance))
