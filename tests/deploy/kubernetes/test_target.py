"""The kubernetes target against the kmock API emulator; the tests play the Deployment controller's part.

What the emulator cannot prove (see ``support.ApplyingEmulator``): real server-side apply field ownership and
conflicts between managers (it emulates one manager owning everything it sends), scheduling and Pods made by
a controller (tests write Deployment status and Pods), probes actually running, namespace isolation and
admission. kmock serves no Namespace objects at all: the suite's extension serves that collection (it
relies on kmock 0.8 internals such as ``_handle``).

What these tests do prove: the exact requests the target sends (method, path, content type, field manager,
bodies equal to the renderers' output), the rollout decisions taken from Deployment status, the deadline,
rollback re-applying the previous release, scale, delete, live, and error translation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from shera.deploy.base import DeploySpec, DeployTarget, HealthCheck, Volume
from shera.deploy.kubernetes.render import render_manifests, render_secret
from shera.deploy.kubernetes.target import KubernetesTarget
from shera.errors import BackendUnavailable, ConfigError, PermanentError, TemporaryError
from tests.deploy.kubernetes.support import DEPLOYMENTS, ApplyingEmulator, add_pod, call, play_rollout
from tests.support.output import Sink

pytestmark = pytest.mark.asyncio

NS = "shera-acme"
SELECTOR = {"app.kubernetes.io/name": "web", "shera.io/app": "web", "shera.io/environment": "prod"}


def release(revision: int, **changes: Any) -> DeploySpec:
    values: dict[str, Any] = {
        "tenant": "acme",
        "app": "web",
        "environment": "prod",
        "revision": revision,
        "image": f"registry.local:5000/acme/web:v{revision}",
        "sha": f"{revision:040x}",
        "run_id": f"run-{revision}",
        "replicas": 2,
        "ports": (8080,),
        "env": {"MODE": "live"},
        "secret_env": {"DB_PASSWORD": "hunter2"},
        "health": HealthCheck(kind="http", port=8080, path="/healthz"),
        "volumes": (Volume(name="uploads", mount="/srv/uploads", shared=True),),
        "deadline_s": 10.0,
    }
    values.update(changes)
    return DeploySpec(**values)


def sent(emulator: ApplyingEmulator, since: int = 0) -> list[tuple[str, str, str, dict[str, str], Any]]:
    """(method, path, content type, query, body) of every API request from the ``since``-th on."""
    return [
        (str(r.method.value), r.url.path, r.headers.get("Content-Type", ""), dict(r.params), r.data)
        for r in list(emulator)[since:]
    ]


def deployment(emulator: ApplyingEmulator) -> dict[str, Any]:
    return emulator.objects[DEPLOYMENTS, NS, "web-prod"].raw


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    limit = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < limit, "condition not reached in time"
        await asyncio.sleep(0.01)


async def deploy_live(
    target: KubernetesTarget, emulator: ApplyingEmulator, spec: DeploySpec, out: Sink
) -> None:
    """Apply ``spec`` and play a controller that makes it available."""
    await call(target.apply, spec, target.render(spec), out=out)
    play_rollout(emulator, NS, "web-prod", updated=spec.replicas, available=spec.replicas)
    assert (await call(target.wait, spec, out=out)).state == "available"


async def test_target_is_a_deploy_target(target: KubernetesTarget) -> None:
    assert isinstance(target, DeployTarget)
    assert target.name == "kubernetes"


async def test_apply_sends_the_rendered_objects_by_server_side_apply(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    spec = release(1)
    manifests = target.render(spec)
    await call(target.apply, spec, manifests, out=out)

    apply_query = {"fieldManager": "shera", "force": "true"}
    ssa = "application/apply-patch+yaml"
    assert sent(kmock) == [
        ("PATCH", "/api/v1/namespaces/shera-acme", ssa, apply_query, manifests["namespace.yaml"]),
        ("PATCH", f"/api/v1/namespaces/{NS}/secrets/web-prod-env", ssa, apply_query, render_secret(spec)),
        (
            "PATCH",
            f"/api/v1/namespaces/{NS}/persistentvolumeclaims/web-prod-uploads",
            ssa,
            apply_query,
            manifests["volume-uploads.yaml"],
        ),
        (
            "PATCH",
            f"/apis/apps/v1/namespaces/{NS}/deployments/web-prod",
            ssa,
            apply_query,
            manifests["deployment.yaml"],
        ),
        ("PATCH", f"/api/v1/namespaces/{NS}/services/web-prod", ssa, apply_query, manifests["service.yaml"]),
    ]
    # The stored objects are the rendered ones (plus what the server adds).
    assert kmock.objects[DEPLOYMENTS, NS, "web-prod"] >= manifests["deployment.yaml"]
    assert kmock.objects["v1/services", NS, "web-prod"] >= manifests["service.yaml"]
    assert kmock.objects["v1/namespaces", None, NS] >= manifests["namespace.yaml"]
    assert "applied Deployment shera-acme/web-prod" in out.text
    assert "hunter2" not in out.text

    # Applying again sends the same documents (nothing else, nothing more).
    before = len(list(kmock))
    await call(target.apply, spec, manifests, out=out)
    assert [call[4] for call in sent(kmock, before)] == [call[4] for call in sent(kmock)[:5]]
    assert deployment(kmock)["metadata"]["generation"] == 1


async def test_rollout_becomes_available_when_the_controller_reports_it(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    spec = release(1)
    await call(target.apply, spec, target.render(spec), out=out)
    waiting = asyncio.create_task(call(target.wait, spec, out=out))

    # Given the controller has not observed the new generation yet, the rollout is still progressing.
    await asyncio.sleep(0.1)
    assert not waiting.done()
    play_rollout(kmock, NS, "web-prod", updated=2, available=1)
    await asyncio.sleep(0.1)
    assert not waiting.done()

    # When both replicas are available (and Pods exist: one ready of this revision, others not counting).
    labels = {**SELECTOR, "shera.io/revision": "1"}
    add_pod(kmock, NS, "web-prod-b", labels, ip="10.0.0.12", node="node-b")
    add_pod(kmock, NS, "web-prod-a", labels, ip="10.0.0.11", node="node-a")
    add_pod(kmock, NS, "web-prod-c", labels, ip="10.0.0.13", node="node-a", ready=False)
    add_pod(kmock, NS, "web-prod-old", {**SELECTOR, "shera.io/revision": "0"}, ip="10.0.0.9", node="node-a")
    add_pod(kmock, NS, "api-prod-x", {"shera.io/app": "api"}, ip="10.0.0.50", node="node-a")
    play_rollout(kmock, NS, "web-prod", updated=2, available=2)

    # Then wait reports it available, with the ready Pods of this revision as endpoints.
    status = await asyncio.wait_for(waiting, 5)
    assert status.state == "available"
    assert (status.ready, status.desired) == (2, 2)
    assert [(e.host, e.port, e.instance, e.node) for e in status.endpoints] == [
        ("10.0.0.11", 8080, "web-prod-a", "node-a"),
        ("10.0.0.12", 8080, "web-prod-b", "node-b"),
    ]
    assert "1 of 2 updated replicas available" in out.text


async def test_rollout_never_available_fails_at_the_deadline_and_rollback_restores_the_previous(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    v1 = release(1)
    v1_manifests = target.render(v1)
    await deploy_live(target, kmock, v1, out)

    # When v2 is applied and its Pods never become available within its 0.4 s deadline...
    v2 = release(2, deadline_s=0.4)
    await call(target.apply, v2, target.render(v2), out=out)
    play_rollout(kmock, NS, "web-prod", updated=1, available=0, replicas=3)
    started = time.monotonic()
    failed = await call(target.wait, v2, out=out)
    assert failed.state == "failed"
    assert time.monotonic() - started >= 0.4
    assert "not available within the 0.4s deadline" in failed.message
    assert "1 of 2 replicas updated" in failed.message
    assert deployment(kmock)["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v2")

    # ...then rollback re-applies v1's manifests; the controller makes them available.
    before = len(list(kmock))
    rolling = asyncio.create_task(call(target.rollback_to, v1, v1_manifests, out=out))
    await eventually(lambda: deployment(kmock)["metadata"]["labels"]["shera.io/revision"] == "1")
    play_rollout(kmock, NS, "web-prod", updated=2, available=2)
    status = await asyncio.wait_for(rolling, 5)

    assert status.state == "available"
    live = deployment(kmock)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local:5000/acme/web:v1"
    assert live["metadata"]["labels"]["shera.io/revision"] == "1"
    assert live["spec"]["template"]["metadata"]["annotations"]["shera.io/sha"] == f"{1:040x}"
    applies = [(path, body) for method, path, _, _, body in sent(kmock, before) if method == "PATCH"]
    assert applies == [
        ("/api/v1/namespaces/shera-acme", v1_manifests["namespace.yaml"]),
        (f"/api/v1/namespaces/{NS}/secrets/web-prod-env", render_secret(v1)),
        (
            f"/api/v1/namespaces/{NS}/persistentvolumeclaims/web-prod-uploads",
            v1_manifests["volume-uploads.yaml"],
        ),
        (f"/apis/apps/v1/namespaces/{NS}/deployments/web-prod", v1_manifests["deployment.yaml"]),
        (f"/api/v1/namespaces/{NS}/services/web-prod", v1_manifests["service.yaml"]),
    ]
    assert "rolling back web/prod to revision 1" in out.text


async def test_progress_deadline_exceeded_fails_and_a_stale_one_does_not_fail_the_rollback(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    v1 = release(1)
    await deploy_live(target, kmock, v1, out)
    v2 = release(2)
    await call(target.apply, v2, target.render(v2), out=out)

    # The controller gives up on v2 long before She-Ra's own 10 s deadline.
    play_rollout(kmock, NS, "web-prod", updated=1, available=0, deadline_exceeded=True)
    failed = await asyncio.wait_for(call(target.wait, v2, out=out), 5)
    assert failed.state == "failed"
    assert (
        'progress deadline exceeded: ReplicaSet "web-prod-new" has timed out progressing.' in failed.message
    )

    # The rollback bumps the generation: the old condition no longer counts until the controller observes it.
    rolling = asyncio.create_task(call(target.rollback_to, v1, target.render(v1), out=out))
    await eventually(lambda: deployment(kmock)["metadata"]["labels"]["shera.io/revision"] == "1")
    await asyncio.sleep(0.1)
    assert not rolling.done()
    play_rollout(kmock, NS, "web-prod", updated=2, available=2)
    assert (await asyncio.wait_for(rolling, 5)).state == "available"


async def test_wait_reports_a_later_revision_and_honours_cancel(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    v1, v2 = release(1), release(2)
    await call(target.apply, v1, target.render(v1), out=out)
    cancel = threading.Event()
    cancel.set()
    cancelled = await call(target.wait, v1, out=out, cancel=cancel)
    assert cancelled.state == "failed" and "cancelled" in cancelled.message

    await call(target.apply, v2, target.render(v2), out=out)
    replaced = await call(target.wait, v1, out=out)
    assert replaced.state == "failed" and "runs revision 2, not 1" in replaced.message


async def test_scale_patches_only_the_replicas(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    await deploy_live(target, kmock, release(1), out)
    before = len(list(kmock))
    status = await call(target.scale, "acme", "web", "prod", 5)

    assert sent(kmock, before) == [
        (
            "PATCH",
            f"/apis/apps/v1/namespaces/{NS}/deployments/web-prod",
            "application/merge-patch+json",
            {"fieldManager": "shera"},
            {"spec": {"replicas": 5}},
        )
    ]
    assert deployment(kmock)["spec"]["replicas"] == 5
    assert deployment(kmock)["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1")
    assert status.desired == 5 and status.state == "progressing"
    with pytest.raises(PermanentError, match="does not exist"):
        await call(target.scale, "acme", "nope", "prod", 2)


async def test_delete_keeps_claims_unless_asked_and_live_shows_what_runs(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    spec = release(1)
    await call(target.apply, spec, target.render(spec), out=out)

    live = await call(target.live, "acme", "web", "prod")
    assert sorted(live) == ["deployment.yaml", "service.yaml", "volume-uploads.yaml"]
    assert live["deployment.yaml"]["metadata"]["labels"]["shera.io/revision"] == "1"
    assert await call(target.live, "acme", "other", "prod") is None

    before = len(list(kmock))
    await call(target.delete, "acme", "web", "prod")
    deletes = [path for method, path, *_ in sent(kmock, before) if method == "DELETE"]
    assert deletes == [
        f"/apis/apps/v1/namespaces/{NS}/deployments/web-prod",
        f"/api/v1/namespaces/{NS}/services/web-prod",
        f"/api/v1/namespaces/{NS}/secrets/web-prod-env",
    ]
    assert kmock.objects[DEPLOYMENTS, NS, "web-prod"].deleted
    assert not kmock.objects["v1/persistentvolumeclaims", NS, "web-prod-uploads"].deleted
    assert sorted(await call(target.live, "acme", "web", "prod")) == ["volume-uploads.yaml"]

    # Deleting again is harmless; with volumes=True the claims go too.
    await call(target.delete, "acme", "web", "prod", volumes=True)
    assert kmock.objects["v1/persistentvolumeclaims", NS, "web-prod-uploads"].deleted
    assert await call(target.live, "acme", "web", "prod") is None


@pytest.mark.kmock(ssa=False)
async def test_without_server_side_apply_the_fallback_creates_then_merge_patches(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    # This server answers 415 to apply patches (as one without server-side apply does): only then does the
    # target fall back to create / merge patch.
    spec = release(1, secret_env={}, volumes=())
    manifests = target.render(spec)
    await call(target.apply, spec, manifests, out=out)
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/web-prod"
    calls = [(method, p, ctype) for method, p, ctype, _, _ in sent(kmock) if "deployments" in p]
    assert calls == [
        ("PATCH", path, "application/apply-patch+yaml"),
        ("GET", path, ""),
        ("POST", f"/apis/apps/v1/namespaces/{NS}/deployments", "application/json"),
    ]
    assert kmock.objects[DEPLOYMENTS, NS, "web-prod"] >= manifests["deployment.yaml"]

    before = len(list(kmock))
    v2 = release(2, secret_env={}, volumes=())
    await call(target.apply, v2, target.render(v2), out=out)
    calls = [(method, p, ctype) for method, p, ctype, _, _ in sent(kmock, before) if "deployments" in p]
    assert calls == [
        ("PATCH", path, "application/apply-patch+yaml"),
        ("GET", path, ""),
        ("PATCH", path, "application/merge-patch+json"),
    ]
    assert deployment(kmock)["metadata"]["labels"]["shera.io/revision"] == "2"


async def test_server_refusal_is_permanent_with_the_servers_message(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    kmock.refusals["deployments"] = (
        422,
        'Deployment.apps "web-prod" is invalid: spec.replicas: must be >= 0',
    )
    spec = release(1)
    with pytest.raises(PermanentError, match=r"spec.replicas: must be >= 0 \(HTTP 422\)"):
        await call(target.apply, spec, target.render(spec), out=out)
    kmock.refusals["deployments"] = (
        409,
        "Apply failed with 1 conflict: conflict with kubectl: .spec.replicas",
    )
    with pytest.raises(PermanentError, match="conflict with kubectl"):
        await call(target.apply, spec, target.render(spec), out=out)
    kmock.refusals["deployments"] = (503, "etcd leader changed")
    with pytest.raises(TemporaryError, match="etcd leader changed"):
        await call(target.apply, spec, target.render(spec), out=out)


async def test_a_manifest_outside_the_tenant_namespace_is_refused_before_any_request(
    kmock: ApplyingEmulator, target: KubernetesTarget, out: Sink
) -> None:
    spec = release(1)
    manifests = target.render(spec)
    manifests["deployment.yaml"] = {
        **manifests["deployment.yaml"],
        "metadata": {"name": "x", "namespace": "kube-system"},
    }
    with pytest.raises(PermanentError, match="outside the tenant namespace 'shera-acme'"):
        await call(target.apply, spec, manifests, out=out)
    assert sent(kmock) == []


async def test_an_unreachable_api_is_temporary_and_wait_gives_up_at_the_deadline(
    unused_tcp_port: int, out: Sink
) -> None:
    def factory() -> ApiClient:
        configuration = Configuration(host=f"http://127.0.0.1:{unused_tcp_port}")
        configuration.retries = 0
        return ApiClient(configuration)

    target = KubernetesTarget(api_client_factory=factory, poll_interval=0.05)
    try:
        spec = release(1, deadline_s=0.3)
        with pytest.raises(BackendUnavailable, match="Kubernetes API did not answer"):
            await call(target.status, spec)
        status = await call(target.wait, spec, out=out)
        assert status.state == "failed"
        assert "deadline" in status.message and "did not answer" in status.message
    finally:
        target.close()


async def test_a_missing_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    target = KubernetesTarget(kubeconfig=tmp_path / "missing", poll_interval=0.05)
    with pytest.raises(ConfigError, match="cannot load the Kubernetes configuration"):
        await call(target.status, release(1))
    assert render_manifests(release(1)) == target.render(release(1))  # rendering needs no cluster
