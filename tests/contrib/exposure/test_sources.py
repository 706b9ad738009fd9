"""Endpoint sources: the podman target's state files, and Kubernetes through the kmock emulator.

The Kubernetes tests extend the suite's emulator (tests/deploy/kubernetes/support.py) with the two kinds the
source reads beyond the deploy target's: EndpointSlices (discovery.k8s.io/v1) and Nodes (cluster-scoped).
The tests write what the endpoint-slice controller, the scheduler and the kubelets would write (nothing in
the emulator does). What this cannot prove: that a real endpoint-slice controller fills slices this way
(nodeName, conditions, targetRef), server-side label selection (the source filters itself too), watch
``timeoutSeconds`` and resourceVersion resumption (kmock ignores both: a stream ends by the client's read
timeout and replays every object, which the source's change digests absorb), and 410 Gone.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import kmock
import pytest

from shera.contrib.exposure.kubesource import KubernetesSource
from shera.contrib.exposure.model import Upstream
from shera.contrib.exposure.sources import EndpointSource, PodmanSource
from shera.deploy.podman.state import StateStore, empty_state
from shera.errors import PermanentError
from tests.deploy.kubernetes.support import ApplyingEmulator, call

NS = "shera-acme"
SLICES = "discovery.k8s.io/v1/endpointslices"
SELECTOR = {"shera.io/app": "web", "shera.io/environment": "prod"}


# -- podman ---------------------------------------------------------------------------------------


def write_state(root: Path, instances: dict[str, dict[str, Any]]) -> None:
    state = empty_state("acme", "web", "prod")
    state["revision"] = 1
    state["instances"] = instances
    StateStore(root).save(state)


def instance(port: int, *, serving: bool = True, extra: dict[str, int] | None = None) -> dict[str, Any]:
    ports = {"8080": port, **{str(k): v for k, v in (extra or {}).items()}}
    return {"revision": 1, "number": 1, "ports": ports, "primary": port, "serving": serving}


def test_podman_source_lists_the_serving_instances_only(tmp_path: Path) -> None:
    write_state(tmp_path, {"a": instance(41001), "b": instance(41002, serving=False), "c": instance(41003)})
    source = PodmanSource(tmp_path)

    assert isinstance(source, EndpointSource)
    assert source.endpoints("acme", "web", "prod") == (
        Upstream("127.0.0.1", 41001),
        Upstream("127.0.0.1", 41003),
    )
    assert source.endpoints("acme", "other", "prod") == ()


def test_podman_source_picks_the_asked_container_port(tmp_path: Path) -> None:
    write_state(tmp_path, {"a": instance(41001, extra={9090: 42001})})
    source = PodmanSource(tmp_path)

    assert source.endpoints("acme", "web", "prod", port=9090) == (Upstream("127.0.0.1", 42001),)
    with pytest.raises(PermanentError, match="does not publish port 7000"):
        source.endpoints("acme", "web", "prod", port=7000)


def test_podman_source_watch_calls_back_when_a_state_file_changes(tmp_path: Path) -> None:
    write_state(tmp_path, {"a": instance(41001)})
    source = PodmanSource(tmp_path, poll_interval=0.02)
    called, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=source.watch, args=(called.set, stop))
    thread.start()
    try:
        assert not called.wait(0.2)  # nothing changed: no call
        write_state(tmp_path, {"a": instance(41001, serving=False)})
        assert called.wait(2.0)
    finally:
        stop.set()
        thread.join(2)
    assert not thread.is_alive()


# -- kubernetes -----------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class ExposureEmulator(ApplyingEmulator):
    """The suite's emulator plus EndpointSlices and the cluster-scoped Nodes."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources[SLICES] = kmock.ResourceInfo()
        self.resources["v1/nodes"] = kmock.ResourceInfo(namespaced=False)


@pytest.fixture
def kmock_options() -> dict[str, Any]:
    return {"cls": ExposureEmulator}


@pytest.fixture
def kubeconfig(kmock: ExposureEmulator, tmp_path: Path) -> Path:
    server = str(kmock.url).rstrip("/")
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "k", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
                "current-context": "k",
            }
        )
    )
    return path


def make_source(kubeconfig: Path, **kwargs: Any) -> Iterator[KubernetesSource]:
    source = KubernetesSource(kubeconfig=kubeconfig, watch_timeout=1.0, **kwargs)
    yield source
    source.close()


@pytest.fixture
def source(kubeconfig: Path) -> Iterator[KubernetesSource]:
    yield from make_source(kubeconfig)


def service(node_port: int | None = 30080) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "http-8080", "port": 8080, "targetPort": "http-8080"}
    if node_port:
        port["nodePort"] = node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web-prod", "namespace": NS},
        "spec": {"type": "NodePort" if node_port else "ClusterIP", "selector": SELECTOR, "ports": [port]},
    }


def pod(name: str, node: str, ip: str, *, ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {**SELECTOR, "app.kubernetes.io/managed-by": "shera"},
        },
        "spec": {"nodeName": node},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def node(name: str, ip: str, *, ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def endpoint_slice(name: str, endpoints: list[tuple[str, str, str, bool]]) -> dict[str, Any]:
    """A slice of Service web-prod: endpoints as (pod, node, ip, ready)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": NS, "labels": {"kubernetes.io/service-name": "web-prod"}},
        "addressType": "IPv4",
        "ports": [{"name": "http-8080", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": ready},
                "nodeName": node_name,
                "targetRef": {"kind": "Pod", "name": pod_name, "namespace": NS},
            }
            for pod_name, node_name, ip, ready in endpoints
        ],
    }


def cluster(emulator: ExposureEmulator) -> None:
    """Four nodes; web runs on a (2 pods), b (1 ready pod), c (1 pod not ready); d runs nothing."""
    for name, ip in (
        ("node-a", "192.0.2.1"),
        ("node-b", "192.0.2.2"),
        ("node-c", "192.0.2.3"),
        ("node-d", "192.0.2.4"),
    ):
        emulator.objects["v1/nodes", None, name] = node(name, ip)
    emulator.objects["v1/services", NS, "web-prod"] = service()
    pods = [("web-1", "node-a", "10.1.0.1", True), ("web-2", "node-a", "10.1.0.2", True),
            ("web-3", "node-b", "10.1.1.3", True), ("web-4", "node-c", "10.1.2.4", False)]  # fmt: skip
    for name, node_name, ip, ready in pods:
        emulator.objects["v1/pods", NS, name] = pod(name, node_name, ip, ready=ready)
    # The endpoint-slice controller spreads endpoints over slices (at most 100 each; two here).
    emulator.objects[SLICES, NS, "web-prod-x1"] = endpoint_slice("web-prod-x1", pods[:2])
    emulator.objects[SLICES, NS, "web-prod-x2"] = endpoint_slice("web-prod-x2", pods[2:])
    # Another Service's slice on node-d must not count.
    other = endpoint_slice("api-prod-x1", [("api-1", "node-d", "10.1.3.1", True)])
    other["metadata"]["labels"]["kubernetes.io/service-name"] = "api-prod"
    emulator.objects[SLICES, NS, "api-prod-x1"] = other


@pytest.mark.asyncio
async def test_one_hop_upstreams_are_exactly_the_nodes_hosting_ready_pods(
    kmock: ExposureEmulator, source: KubernetesSource
) -> None:
    cluster(kmock)

    found = await call(source.endpoints, "acme", "web", "prod")

    # node-a once (two pods, one upstream), node-b; not node-c (pod not ready) nor node-d (other service)
    assert found == (Upstream("192.0.2.1", 30080), Upstream("192.0.2.2", 30080))


@pytest.mark.asyncio
async def test_a_node_that_is_not_ready_and_a_pod_being_deleted_are_left_out(
    kmock: ExposureEmulator, source: KubernetesSource
) -> None:
    cluster(kmock)
    kmock.objects["v1/nodes", None, "node-b"] = node("node-b", "192.0.2.2", ready=False)
    deleting = pod("web-1", "node-a", "10.1.0.1")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    kmock.objects["v1/pods", NS, "web-1"] = deleting

    found = await call(source.endpoints, "acme", "web", "prod")

    assert found == (Upstream("192.0.2.1", 30080),)  # web-2 still serves on node-a


@pytest.mark.asyncio
async def test_pods_mode_gives_the_ready_pod_addresses_and_target_port(
    kmock: ExposureEmulator, kubeconfig: Path
) -> None:
    cluster(kmock)
    for made in make_source(kubeconfig, mode="pods"):
        found = await call(made.endpoints, "acme", "web", "prod")
        assert found == (
            Upstream("10.1.0.1", 8080),
            Upstream("10.1.0.2", 8080),
            Upstream("10.1.1.3", 8080),
        )


@pytest.mark.asyncio
async def test_a_missing_service_has_no_upstreams_and_a_clusterip_one_is_refused(
    kmock: ExposureEmulator, source: KubernetesSource
) -> None:
    assert await call(source.endpoints, "acme", "web", "prod") == ()
    cluster(kmock)
    kmock.objects["v1/services", NS, "web-prod"] = service(node_port=None)

    with pytest.raises(PermanentError, match="no nodePort"):
        await call(source.endpoints, "acme", "web", "prod")


@pytest.mark.asyncio
async def test_watch_calls_back_on_slice_pod_and_node_changes_but_not_on_heartbeats(
    kmock: ExposureEmulator, source: KubernetesSource
) -> None:
    cluster(kmock)
    calls: list[float] = []
    stop = threading.Event()
    watching = asyncio.create_task(call(source.watch, lambda: calls.append(1), stop))
    base = str(kmock.url).rstrip("/")

    async def send(method: str, path: str, body: dict[str, Any], content: str) -> int:
        def go() -> int:
            headers = {"Content-Type": content}
            return httpx.request(method, base + path, json=body, headers=headers, timeout=5).status_code

        return await asyncio.to_thread(go)

    async def settle() -> int:
        await asyncio.sleep(0.3)
        count = len(calls)
        calls.clear()
        return count

    try:
        await settle()  # the initial replay of every object
        merge = "application/merge-patch+json"
        # a node heartbeat (nothing that decides upstreams changes): no call
        beat = {"status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "now"}]}}
        assert await send("PATCH", "/api/v1/nodes/node-a", beat, merge) == 200
        assert await settle() == 0
        # a pod becomes ready: a call
        ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        assert await send("PATCH", f"/api/v1/namespaces/{NS}/pods/web-4", ready, merge) == 200
        assert await settle() >= 1
        # a new slice appears: a call
        fresh = endpoint_slice("web-prod-x3", [("web-5", "node-d", "10.1.3.5", True)])
        assert await send(
            "POST", f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices", fresh, "application/json"
        ) in (200, 201)
        assert await settle() >= 1
    finally:
        stop.set()
        await asyncio.wait_for(watching, 10)
