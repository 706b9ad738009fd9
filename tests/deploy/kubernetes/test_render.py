"""The kubernetes renderers, asserted as data: names, labels, probes, strategy, volumes, secrets, services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import (
    ApiClient,
    V1Deployment,
    V1Namespace,
    V1PersistentVolumeClaim,
    V1Secret,
    V1Service,
)

from shera.deploy.base import DeploySpec, HealthCheck, Strategy, Volume
from shera.deploy.kubernetes.render import (
    pinned_image,
    render_deployment,
    render_manifests,
    render_secret,
    render_service,
)
from shera.errors import ConfigError

DIGEST = "sha256:" + "ab" * 32
SELECTOR = {"app.kubernetes.io/name": "web", "shera.io/app": "web", "shera.io/environment": "prod"}
LABELS = {
    **SELECTOR,
    "app.kubernetes.io/managed-by": "shera",
    "shera.io/tenant": "acme",
    "shera.io/revision": "7",
}
ANNOTATIONS = {
    "shera.io/sha": "0123456789abcdef0123456789abcdef01234567",
    "shera.io/run": "run-42",
    "shera.io/digest": DIGEST,
    "shera.io/image": "registry.local:5000/acme/web:v7",
}


def full_spec(**changes: Any) -> DeploySpec:
    spec = DeploySpec(
        tenant="acme",
        app="web",
        environment="prod",
        revision=7,
        image="registry.local:5000/acme/web:v7",
        digest=DIGEST,
        sha="0123456789abcdef0123456789abcdef01234567",
        run_id="run-42",
        replicas=3,
        ports=(8080, 9090),
        env={"MODE": "live", "LOG_LEVEL": "info"},
        secret_env={"DB_PASSWORD": "hunter2-secret", "API_KEY": "k-secret"},
        resources={"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        health=HealthCheck(kind="http", port=8080, path="/healthz", initial_delay_s=2.5, timeout_s=0.5),
        strategy=Strategy(kind="rolling", max_surge="25%", max_unavailable=0),
        volumes=(Volume(name="uploads", mount="/srv/uploads", size="5Gi", shared=True),),
        node_selector={"disk": "ssd"},
        deadline_s=90,
        shared_storage_class="csi-cephfs-sc",
    )
    return DeploySpec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, **changes})


def test_deployment_is_the_expected_document() -> None:
    # Given a spec using every feature, the Deployment is exactly this document.
    assert render_deployment(full_spec()) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web-prod",
            "namespace": "shera-acme",
            "labels": LABELS,
            "annotations": ANNOTATIONS,
        },
        "spec": {
            "replicas": 3,
            "progressDeadlineSeconds": 90,
            "selector": {"matchLabels": SELECTOR},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": LABELS, "annotations": ANNOTATIONS},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": f"registry.local:5000/acme/web@{DIGEST}",
                            "ports": [
                                {"name": "p8080", "containerPort": 8080, "protocol": "TCP"},
                                {"name": "p9090", "containerPort": 9090, "protocol": "TCP"},
                            ],
                            "env": [
                                {"name": "MODE", "value": "live"},
                                {"name": "LOG_LEVEL", "value": "info"},
                                {
                                    "name": "API_KEY",
                                    "valueFrom": {"secretKeyRef": {"name": "web-prod-env", "key": "API_KEY"}},
                                },
                                {
                                    "name": "DB_PASSWORD",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": "web-prod-env", "key": "DB_PASSWORD"}
                                    },
                                },
                            ],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": 8080},
                                "initialDelaySeconds": 3,
                                "timeoutSeconds": 1,
                                "periodSeconds": 1,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": 8080},
                                "initialDelaySeconds": 3,
                                "timeoutSeconds": 1,
                                "periodSeconds": 1,
                            },
                            "volumeMounts": [{"name": "uploads", "mountPath": "/srv/uploads"}],
                        }
                    ],
                    "nodeSelector": {"disk": "ssd"},
                    "volumes": [
                        {"name": "uploads", "persistentVolumeClaim": {"claimName": "web-prod-uploads"}}
                    ],
                },
            },
        },
    }


def test_manifests_come_in_apply_order_and_are_deterministic() -> None:
    first = render_manifests(full_spec())
    second = render_manifests(full_spec())
    assert list(first) == ["namespace.yaml", "volume-uploads.yaml", "deployment.yaml", "service.yaml"]
    assert json.dumps(first) == json.dumps(second)
    assert first["namespace.yaml"] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "shera-acme",
            "labels": {"app.kubernetes.io/managed-by": "shera", "shera.io/tenant": "acme"},
        },
    }


def test_secret_values_never_reach_the_manifests_only_the_apply_time_secret() -> None:
    spec = full_spec()
    text = json.dumps(render_manifests(spec))
    assert "hunter2-secret" not in text and "k-secret" not in text
    assert all(manifest["kind"] != "Secret" for manifest in render_manifests(spec).values())
    assert render_secret(spec) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "web-prod-env",
            "namespace": "shera-acme",
            "labels": {key: value for key, value in LABELS.items() if key != "shera.io/revision"},
        },
        "type": "Opaque",
        "stringData": {"API_KEY": "k-secret", "DB_PASSWORD": "hunter2-secret"},
    }
    assert render_secret(full_spec(secret_env={})) is None


def test_shared_volume_is_rwx_on_the_platform_class_and_private_volume_is_rwo() -> None:
    spec = full_spec(
        replicas=1,
        volumes=(
            Volume(name="uploads", mount="/srv/uploads", size="5Gi", shared=True),
            Volume(name="cache", mount="/var/cache/web", size="1Gi"),
        ),
    )
    manifests = render_manifests(spec)
    assert manifests["volume-uploads.yaml"]["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "csi-cephfs-sc",
    }
    assert manifests["volume-cache.yaml"]["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    }
    cache = manifests["volume-cache.yaml"]["metadata"]
    assert cache["name"] == "web-prod-cache" and cache["labels"]["shera.io/volume"] == "cache"
    assert "shera.io/revision" not in cache["labels"]  # a claim outlives revisions
    pod = manifests["deployment.yaml"]["spec"]["template"]["spec"]
    assert [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]] == [
        "web-prod-uploads",
        "web-prod-cache",
    ]


@pytest.mark.parametrize(
    ("health", "action"),
    [
        (HealthCheck(kind="tcp", port=9090, interval_s=5, timeout_s=3), {"tcpSocket": {"port": 9090}}),
        (
            HealthCheck(kind="exec", command=("cat", "/tmp/ok"), interval_s=5, timeout_s=3),
            {"exec": {"command": ["cat", "/tmp/ok"]}},
        ),
        (HealthCheck(kind="http", interval_s=5, timeout_s=3), {"httpGet": {"path": "/", "port": 8080}}),
    ],
)
def test_probes_from_each_health_kind(health: HealthCheck, action: dict[str, Any]) -> None:
    container = render_deployment(full_spec(health=health))["spec"]["template"]["spec"]["containers"][0]
    expected = {**action, "initialDelaySeconds": 0, "timeoutSeconds": 3, "periodSeconds": 5}
    assert container["readinessProbe"] == expected
    assert container["livenessProbe"] == expected


def test_recreate_strategy_and_no_health_no_probes() -> None:
    deployment = render_deployment(full_spec(strategy=Strategy(kind="recreate"), health=None))
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert "readinessProbe" not in deployment["spec"]["template"]["spec"]["containers"][0]


def test_service_selects_the_pods_of_every_revision() -> None:
    spec = full_spec()
    service = render_service(spec)
    assert service["spec"] == {
        "type": "ClusterIP",
        "selector": SELECTOR,
        "ports": [
            {"name": "p8080", "port": 8080, "targetPort": "p8080", "protocol": "TCP"},
            {"name": "p9090", "port": 9090, "targetPort": "p9090", "protocol": "TCP"},
        ],
    }
    pod_labels = render_deployment(spec)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert render_service(spec, service_type="NodePort")["spec"]["type"] == "NodePort"
    assert "service.yaml" not in render_manifests(full_spec(ports=(), health=None))


@pytest.mark.parametrize(
    ("image", "digest", "expected"),
    [
        ("registry.local:5000/acme/web:v7", DIGEST, f"registry.local:5000/acme/web@{DIGEST}"),
        ("registry.local:5000/acme/web", DIGEST, f"registry.local:5000/acme/web@{DIGEST}"),
        (f"web@sha256:{'cd' * 32}", DIGEST, f"web@{DIGEST}"),
        ("registry.local:5000/acme/web:v7", None, "registry.local:5000/acme/web:v7"),
    ],
)
def test_image_is_pinned_by_digest_when_known(image: str, digest: str | None, expected: str) -> None:
    assert pinned_image(image, digest) == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"app": "9lives"}, "app '9lives' in environment 'prod'"),
        ({"environment": "e" * 60}, "is not valid"),
        ({"tenant": "Acme_Corp"}, "namespace of tenant 'Acme_Corp'"),
        ({"health": HealthCheck(kind="exec")}, "exec health check needs a command"),
    ],
)
def test_names_and_checks_kubernetes_would_refuse_are_clear_errors(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        render_manifests(full_spec(**changes))


def test_every_rendered_object_round_trips_through_the_official_models() -> None:
    # The client's models drop unknown fields and reject wrong types: an equal round trip means every
    # field name and type is one Kubernetes knows.
    models: dict[str, Any] = {
        "Namespace": V1Namespace,
        "PersistentVolumeClaim": V1PersistentVolumeClaim,
        "Deployment": V1Deployment,
        "Service": V1Service,
        "Secret": V1Secret,
    }
    spec = full_spec()
    objects = [*render_manifests(spec).values(), render_secret(spec)]
    with ApiClient() as client:
        for manifest in objects:
            assert manifest is not None
            model = models[manifest["kind"]].from_dict(manifest)
            assert client.sanitize_for_serialization(model) == manifest


def test_shapes_match_the_corpus_manifests(corpus: Path) -> None:
    # Same structure as real-world manifests: ceph-csi's CephFS RWX claim and podinfo's deployment.
    k8s = corpus / "k8s"
    ceph_pvc = yaml.safe_load((k8s / "ceph__ceph-csi__examples__cephfs__pvc.yaml").read_text())
    podinfo = yaml.safe_load(
        (k8s / "stefanprodan__podinfo__deploy__bases__frontend__deployment.yaml").read_text()
    )
    manifests = render_manifests(full_spec())
    claim = manifests["volume-uploads.yaml"]
    assert claim["spec"].keys() == ceph_pvc["spec"].keys()
    assert claim["spec"]["accessModes"] == ceph_pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    ours = manifests["deployment.yaml"]
    assert ours["spec"]["strategy"]["type"] == podinfo["spec"]["strategy"]["type"]
    assert (
        ours["spec"]["selector"]["matchLabels"].items()
        <= ours["spec"]["template"]["metadata"]["labels"].items()
    )
    theirs_container = podinfo["spec"]["template"]["spec"]["containers"][0]
    our_container = ours["spec"]["template"]["spec"]["containers"][0]
    assert our_container["ports"][0].keys() == theirs_container["ports"][0].keys()
    assert our_container["readinessProbe"].keys() - {"httpGet", "periodSeconds"} == (
        theirs_container["readinessProbe"].keys() - {"exec"}
    )
    assert our_container["resources"].keys() == theirs_container["resources"].keys()
