"""Test support for the kubernetes target: kmock's emulator extended where it falls short; helpers.

kmock's ``KubernetesEmulator`` stores objects, applies merge/JSON patches, lists and deletes. This suite
extends it (``ApplyingEmulator``) with exactly three things a rollout test needs, and nothing more:

1. **Server-side apply, single manager**: a ``PATCH`` with ``application/apply-patch+yaml`` creates the object
   when missing, else replaces everything but the server-owned fields (status, uid, generation, timestamps).
   That is what SSA does when one field manager (``shera``) owns every field it sends; it is NOT real SSA:
   no managedFields, no conflicts between managers, no list-merge keys. A missing ``fieldManager`` is
   refused with 422 like the real API. With ``ssa=False`` the emulator answers 415 instead, like a server
   without SSA, which is how the adapter's fallback (create / merge-patch) is exercised.
2. **metadata.generation**: 1 on create, +1 whenever ``spec`` changes (apply or merge patch), as the real
   API server does; the rollout logic depends on it (observedGeneration).
3. **The Namespace collection** ``/api/v1/namespaces[/name]``: kmock cannot parse that path (500); requests to
   it are parsed here and then served by the ordinary emulator machinery and recorded like any other.

Still unprovable here: real SSA field ownership, scheduling, Pods created by a controller (tests write
Deployment status and Pods themselves), probes running, namespaced isolation and admission.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp.web
import attrs
import kmock

_NAMESPACES = re.compile(r"^/api/v1/namespaces(?:/([^/]+))?/?$")
_SERVER_OWNED = ("uid", "generation", "creationTimestamp", "resourceVersion")
RESOURCES = (
    "v1/namespaces",
    "v1/secrets",
    "v1/persistentvolumeclaims",
    "v1/services",
    "v1/pods",
    "apps/v1/deployments",
)


@attrs.define(kw_only=True)
class ApplyingEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus single-manager server-side apply, generations and the Namespace collection."""

    ssa: bool = True
    refusals: dict[str, tuple[int, str]] = attrs.field(factory=dict)
    """plural → (status, message): apply patches of that resource are refused, like a validating webhook."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for resource in RESOURCES:
            self.resources[resource] = kmock.ResourceInfo()

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        match = _NAMESPACES.match(raw_request.path)
        if match is None:
            return await super().__call__(raw_request)
        body = await raw_request.read()
        name = match.group(1)
        verbs = {"GET": "fetch" if name else "list", "POST": "create", "PATCH": "update", "DELETE": "delete"}
        request = kmock.Request(
            id=len(self._requests),
            method=raw_request.method,
            url=raw_request.url,
            params=dict(raw_request.query),
            headers=dict(raw_request.headers),
            body=body,
            text=body.decode(),
            data=json.loads(body) if body else None,
            action=kmock.action(verbs[raw_request.method]),
            resource=kmock.resource("", "v1", "namespaces"),
            name=name,
        )
        self._requests.append(request)
        try:
            return await self._handle(request)
        except Exception as exc:  # the same translation kmock's own __call__ does
            return await self._render_error(exc)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is None or request.name is None or request.method != "PATCH":
            created = await super()._handle(request)
            if request.action == kmock.action.CREATE and request.resource is not None:
                self._set_generation(request, before=None)
            return created
        key = (request.resource, request.namespace, request.name)
        if request.headers.get("Content-Type", "").startswith("application/apply-patch"):
            return await self._apply(request, key)
        before = copy.deepcopy(self._objects[key].raw.get("spec")) if self._exists(key) else None
        patched = await super()._handle(request)
        self._set_generation(request, before=before)
        return patched

    async def _apply(self, request: kmock.Request, key: Any) -> aiohttp.web.StreamResponse:
        if not self.ssa:
            return _status(415, "UnsupportedMediaType", "the server does not support server-side apply")
        assert request.resource is not None
        if request.resource.plural in self.refusals:
            code, message = self.refusals[request.resource.plural]
            return _status(code, "Refused", message)
        if not request.params.get("fieldManager"):
            return _status(422, "Invalid", "fieldManager: Required value: is required for apply patch")
        applied = copy.deepcopy(request.data)
        async with self._lock:
            if self._exists(key):
                old = self._objects[key].raw
                kept = {field: old["metadata"][field] for field in _SERVER_OWNED if field in old["metadata"]}
                applied["metadata"] = {**applied.get("metadata", {}), **kept}
                if "status" in old:
                    applied["status"] = old["status"]
                if applied.get("spec") != old.get("spec"):
                    applied["metadata"]["generation"] = int(kept.get("generation", 0)) + 1
                self._objects[key].history.append(applied)
                event = "MODIFIED"
            else:
                applied.setdefault("metadata", {})["generation"] = 1
                applied["metadata"]["uid"] = f"uid-{len(self._requests)}"
                if key in self._objects:
                    self._objects[key].create(applied)
                else:
                    self._objects[key] = applied
                event = "ADDED"
            raw = self._objects[key].raw
            await self._buses[request.resource].put({"type": event, "object": raw})
        return aiohttp.web.json_response(raw)

    def _exists(self, key: Any) -> bool:
        return key in self._objects and not self._objects[key].deleted

    def _set_generation(self, request: kmock.Request, *, before: Any) -> None:
        data = request.data if isinstance(request.data, dict) else {}
        name = request.name or (data.get("metadata") or {}).get("name")
        namespace = request.namespace or (data.get("metadata") or {}).get("namespace")
        key = (request.resource, namespace, name)
        if request.resource is None or not isinstance(name, str) or not self._exists(key):
            return
        obj = self._objects[request.resource, namespace, name]
        metadata = dict(obj.raw.get("metadata") or {})
        if request.action == kmock.action.CREATE:
            metadata.setdefault("generation", 1)
        elif obj.raw.get("spec") != before:
            metadata["generation"] = int(metadata.get("generation") or 0) + 1
        obj["metadata"] = metadata  # the latest version, without growing the history


def _status(code: int, reason: str, message: str) -> aiohttp.web.Response:
    body = {"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code}
    return aiohttp.web.json_response({**body, "reason": reason, "message": message}, status=code)


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking target method in a thread, so the emulator on this event loop can answer it."""
    return await asyncio.to_thread(function, *args, **kwargs)


DEPLOYMENTS = "apps/v1/deployments"


def play_rollout(
    emulator: ApplyingEmulator,
    namespace: str,
    name: str,
    *,
    updated: int,
    available: int,
    replicas: int | None = None,
    deadline_exceeded: bool = False,
) -> None:
    """Write the status a Deployment controller would write for the current generation."""
    deployment = emulator.objects[DEPLOYMENTS, namespace, name]
    progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}
    if deadline_exceeded:
        progressing = {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": f'ReplicaSet "{name}-new" has timed out progressing.',
        }
    deployment["status"] = {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": updated if replicas is None else replicas,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": [progressing],
    }


def add_pod(
    emulator: ApplyingEmulator,
    namespace: str,
    name: str,
    labels: dict[str, str],
    *,
    ip: str,
    node: str,
    ready: bool = True,
) -> None:
    """A Pod as the scheduler and kubelet would leave it (nothing here creates Pods on its own)."""
    emulator.objects["v1/pods", namespace, name] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node},
        "status": {
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
