"""Contrib layer (exposure): ``KubernetesSource`` — endpoints from EndpointSlices, Pods and Nodes, watched.

The one module of the exposure plugin that imports the official ``kubernetes`` client (JSON in and out,
no typed models, like ``shera.deploy.kubernetes.apply``). The app's Service is ``<app>-<env>`` in
namespace ``shera-<tenant>`` (the kubernetes deploy target's names).

Modes:
- ``nodeport`` (default, the one-hop rule): the balancer sends each request straight to a node that runs a
  ready Pod of the app, at the Service's nodePort — upstreams are the InternalIP of every Ready node hosting
  at least one ready endpoint, with that nodePort (nodes without a ready Pod of the app are left out, so
  kube-proxy never forwards a second hop). The Service must be of type NodePort (``kube_service_type``).
- ``pods``: the ready Pods' addresses and the target port, for an edge that can route to Pod IPs.

A ready endpoint: listed in an EndpointSlice of the Service with ``conditions.ready`` not false and not
terminating, whose Pod (when the Pod is known) is Ready and not being deleted. Its node comes from the
slice (``nodeName``) or else from the Pod.

``watch`` runs one watch stream per kind (EndpointSlices and Pods managed by She-Ra in every namespace,
Nodes) and calls back only when something that decides upstreams changed (a slice's endpoints, a Pod's
readiness/node/IP, a Node's addresses or readiness) — not for node heartbeats. Streams end every
``watch_timeout`` seconds (server side, plus a client read timeout) and resume; errors are logged and retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import urllib3
from kubernetes import config as kube_config
from kubernetes import watch as kube_watch
from kubernetes.client import ApiClient, CoreV1Api, DiscoveryV1Api
from kubernetes.client.exceptions import ApiException

from shera.contrib.exposure.model import Upstream
from shera.contrib.exposure.sources import Callback, unique_sorted
from shera.deploy.kubernetes.render import LABEL_MANAGED_BY, MANAGER, namespace_name, object_name
from shera.errors import BackendUnavailable, ConfigError, PermanentError, TemporaryError

log = logging.getLogger(__name__)

Mode = Literal["nodeport", "pods"]
SERVICE_LABEL = "kubernetes.io/service-name"
Obj = dict[str, Any]


def _ready(conditions: Any, kind: str = "Ready") -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions or ())


def _service_port(service: Mapping[str, Any], port: int | None, where: str) -> Obj:
    ports = (service.get("spec") or {}).get("ports") or []
    if port is None and ports:
        return dict(ports[0])
    for entry in ports:
        if port in (entry.get("port"), entry.get("targetPort")):
            return dict(entry)
    raise PermanentError(f"{where}: the Service has no port {port}")


def _ready_endpoints(slices: list[Obj], pods: list[Obj], port_name: Any) -> tuple[set[str], list[Upstream]]:
    """The nodes hosting a ready endpoint, and the ready endpoints' addresses at the target port."""
    by_pod = {(p.get("metadata") or {}).get("name"): p for p in pods}
    nodes: set[str] = set()
    targets: list[Upstream] = []
    for piece in slices:
        ports = [p for p in piece.get("ports") or () if p.get("name") == port_name]
        for endpoint in piece.get("endpoints") or ():
            conditions = endpoint.get("conditions") or {}
            if conditions.get("ready") is False or conditions.get("terminating") is True:
                continue
            pod = by_pod.get((endpoint.get("targetRef") or {}).get("name")) or {}
            if pod and (
                not _ready((pod.get("status") or {}).get("conditions"))
                or (pod.get("metadata") or {}).get("deletionTimestamp")
            ):
                continue
            node = endpoint.get("nodeName") or (pod.get("spec") or {}).get("nodeName")
            if node:
                nodes.add(str(node))
            targets += [
                Upstream(host=str(address), port=int(p["port"]))
                for address in endpoint.get("addresses") or ()
                for p in ports
            ]
    return nodes, targets


def node_upstreams(
    service: Mapping[str, Any],
    slices: list[Obj],
    pods: list[Obj],
    nodes: list[Obj],
    *,
    port: int | None,
    mode: Mode,
    where: str,
) -> tuple[Upstream, ...]:
    """Pure: the upstreams of one Service from its slices, its Pods and the Nodes (see the module doc)."""
    entry = _service_port(service, port, where)
    ready_nodes, pod_targets = _ready_endpoints(slices, pods, entry.get("name"))
    if mode == "pods":
        return unique_sorted(pod_targets)
    node_port = entry.get("nodePort")
    if not node_port:
        raise PermanentError(
            f"{where}: the Service has no nodePort (type {(service.get('spec') or {}).get('type')}); "
            "deploy with kube_service_type=NodePort or expose with the pods mode"
        )
    found = [
        Upstream(host=str(address["address"]), port=int(node_port))
        for node in nodes
        if (node.get("metadata") or {}).get("name") in ready_nodes
        and _ready((node.get("status") or {}).get("conditions"))
        for address in (node.get("status") or {}).get("addresses") or ()
        if address.get("type") == "InternalIP" and address.get("address")
    ]
    return unique_sorted(found)


def _digest(kind: str, obj: Mapping[str, Any]) -> str:
    """What of an object decides upstreams (heartbeats and other noise left out)."""
    if kind == "slices":
        relevant: Any = [obj.get("endpoints"), obj.get("ports")]
    elif kind == "pods":
        status = obj.get("status") or {}
        relevant = [
            (obj.get("spec") or {}).get("nodeName"),
            status.get("podIP"),
            _ready(status.get("conditions")),
            (obj.get("metadata") or {}).get("deletionTimestamp"),
        ]
    else:
        status = obj.get("status") or {}
        relevant = [status.get("addresses"), _ready(status.get("conditions"))]
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


class KubernetesSource:
    """Endpoints of apps deployed by the kubernetes target; see the module docstring."""

    name = "kubernetes"

    def __init__(
        self,
        api_client_factory: Callable[[], Any] | None = None,
        kubeconfig: str | Path | None = None,
        *,
        context: str | None = None,
        mode: Mode = "nodeport",
        watch_timeout: float = 5.0,
        request_timeout: float = 10.0,
    ) -> None:
        if mode not in ("nodeport", "pods"):
            raise ConfigError(f"kubernetes endpoint mode {mode!r}: use nodeport or pods")
        self._factory = api_client_factory
        self._kubeconfig, self._context = kubeconfig, context
        self.mode: Mode = mode
        self.watch_timeout = watch_timeout
        self.request_timeout = request_timeout
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                if self._factory is not None:
                    self._client = self._factory()
                else:
                    try:
                        self._client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                            None if self._kubeconfig is None else str(self._kubeconfig),
                            context=self._context,
                            persist_config=False,
                        )
                    except (kube_config.ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
                        raise ConfigError(f"cannot load the Kubernetes configuration: {exc}") from exc
            return self._client

    def close(self) -> None:
        with self._lock:
            if isinstance(self._client, ApiClient):
                self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    def _read(self, call: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> Obj | None:
        """One read as JSON; None for 404; errors translated."""
        try:
            response = call(*args, _preload_content=False, _request_timeout=self.request_timeout, **kwargs)
            data: Obj = json.loads(response.data or b"{}")
            return data
        except ApiException as exc:
            if exc.status == 404:
                return None
            text = f"Kubernetes refused the {what}: {exc.reason} (HTTP {exc.status})"
            if exc.status in (0, None):
                raise BackendUnavailable(f"Kubernetes API did not answer the {what}") from exc
            if exc.status == 429 or exc.status >= 500:
                raise TemporaryError(text) from exc
            raise PermanentError(text) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise BackendUnavailable(f"Kubernetes API did not answer the {what}: {exc}") from exc
        except ValueError as exc:
            raise TemporaryError(f"Kubernetes API answered the {what} with something not JSON") from exc

    def endpoints(
        self, tenant: str, app: str, environment: str, port: int | None = None
    ) -> tuple[Upstream, ...]:
        namespace, name = namespace_name(tenant), object_name(app, environment)
        where = f"Service {namespace}/{name}"
        core, discovery = CoreV1Api(self.client), DiscoveryV1Api(self.client)
        service = self._read(core.read_namespaced_service, f"read of {where}", name, namespace)
        if service is None:
            return ()
        slices = self._items(
            discovery.list_namespaced_endpoint_slice,
            f"list of the EndpointSlices of {where}",
            namespace,
            label_selector=f"{SERVICE_LABEL}={name}",
        )
        slices = [s for s in slices if (s.get("metadata") or {}).get("labels", {}).get(SERVICE_LABEL) == name]
        selector = (service.get("spec") or {}).get("selector") or {}
        pods = self._items(core.list_namespaced_pod, f"list of the Pods of {where}", namespace)
        pods = [
            p
            for p in pods
            if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())
        ]
        nodes = [] if self.mode == "pods" else self._items(core.list_node, "list of Nodes")
        return node_upstreams(service, slices, pods, nodes, port=port, mode=self.mode, where=where)

    def _items(self, call: Callable[..., Any], what: str, *args: Any, **kwargs: Any) -> list[Obj]:
        listed = self._read(call, what, *args, **kwargs) or {}
        return list(listed.get("items") or [])

    # -- watching -------------------------------------------------------------------------------------

    def watch(self, callback: Callback, stop: threading.Event) -> None:
        core, discovery = CoreV1Api(self.client), DiscoveryV1Api(self.client)
        streams: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
            "slices": (discovery.list_endpoint_slice_for_all_namespaces, {}),
            "pods": (core.list_pod_for_all_namespaces, {"label_selector": f"{LABEL_MANAGED_BY}={MANAGER}"}),
            "nodes": (core.list_node, {}),
        }
        threads = [
            threading.Thread(
                target=self._watch_kind,
                args=(kind, call, kwargs, callback, stop),
                name=f"shera-expose-watch-{kind}",
                daemon=True,
            )
            for kind, (call, kwargs) in streams.items()
        ]
        for thread in threads:
            thread.start()
        stop.wait()
        for thread in threads:
            thread.join(self.watch_timeout + 2)

    def _watch_kind(
        self,
        kind: str,
        call: Callable[..., Any],
        kwargs: dict[str, Any],
        callback: Callback,
        stop: threading.Event,
    ) -> None:
        seen: dict[tuple[str, str], str] = {}
        version: str | None = None
        while not stop.is_set():
            watcher = kube_watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in self._stream(watcher, call, kwargs, version):
                    if stop.is_set():
                        break
                    if self._changed(kind, event, seen):
                        callback()
                version = watcher.resource_version
            except ApiException as exc:
                if exc.status == 410:  # our resourceVersion is too old: start over, resync everything
                    version, seen = None, {}
                    callback()
                    continue
                log.warning("watch of %s: %s (HTTP %s); retrying", kind, exc.reason, exc.status)
                stop.wait(1.0)
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                # A read timeout is how an idle stream ends when the server ignores timeoutSeconds.
                if not isinstance(exc, urllib3.exceptions.ReadTimeoutError):
                    log.info("watch of %s ended: %s; resuming", kind, exc)
                    stop.wait(0.5)
            finally:
                watcher.stop()  # type: ignore[no-untyped-call]

    def _stream(
        self, watcher: Any, call: Callable[..., Any], kwargs: dict[str, Any], version: str | None
    ) -> Iterator[Mapping[str, Any]]:
        options = dict(kwargs)
        if version:
            options["resource_version"] = version
        timeout = max(1, int(self.watch_timeout))
        yield from watcher.stream(
            call,
            timeout_seconds=timeout,
            _request_timeout=(self.request_timeout, timeout + 1),
            deserialize=False,
            **options,
        )

    @staticmethod
    def _changed(kind: str, event: Mapping[str, Any], seen: dict[tuple[str, str], str]) -> bool:
        obj = event.get("object") or {}
        if event.get("type") not in ("ADDED", "MODIFIED", "DELETED") or not isinstance(obj, dict):
            return False
        metadata = obj.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        if event["type"] == "DELETED":
            seen.pop(key, None)
            return True
        digest = _digest(kind, obj)
        if seen.get(key) == digest:
            return False
        seen[key] = digest
        return True
