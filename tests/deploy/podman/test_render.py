"""Tests of shera/deploy/podman/render.py: the manifest is pure data, carries no secret values."""

from __future__ import annotations

import json

import pytest

from shera.deploy.base import DeploySpec, HealthCheck, Strategy, Volume
from shera.deploy.podman.render import Template, render
from shera.errors import PermanentError


def _spec(**changes: object) -> DeploySpec:
    values: dict[str, object] = {
        "tenant": "acme",
        "app": "web",
        "environment": "production",
        "revision": 4,
        "image": "registry.local/acme/web@sha256:" + "a" * 64,
        "sha": "abc123",
        "run_id": "run-9",
        "replicas": 2,
        "ports": (8080, 9090),
        "env": {"B": "2", "A": "1"},
        "secret_env": {"DB_PASSWORD": "hunter2"},
        "health": HealthCheck("http", port=8080, path="/healthz"),
        "volumes": (Volume("data", "/data", shared=True),),
        "strategy": Strategy("rolling", max_surge=1, max_unavailable=0),
    }
    values.update(changes)
    return DeploySpec(**values)  # type: ignore[arg-type]


def test_render_is_deterministic_and_has_no_secret_values() -> None:
    first = json.dumps(render(_spec()), sort_keys=False)
    second = json.dumps(render(_spec(env={"A": "1", "B": "2"})), sort_keys=False)

    assert first == second
    assert "hunter2" not in first
    manifest = render(_spec())
    assert manifest["secrets"] == ["DB_PASSWORD"]
    assert manifest["env"] == {"A": "1", "B": "2"}


def test_render_names_instances_volumes_and_labels() -> None:
    manifest = render(_spec())

    assert manifest["instances"] == [
        "shera-acme-web-production-r4-1",
        "shera-acme-web-production-r4-2",
    ]
    assert manifest["volumes"] == [
        {"name": "data", "volume": "shera-acme-web-production-data", "mount": "/data", "shared": True}
    ]
    assert manifest["labels"] == {
        "io.shera.tenant": "acme",
        "io.shera.app": "web",
        "io.shera.environment": "production",
        "io.shera.revision": "4",
        "io.shera.sha": "abc123",
        "io.shera.run": "run-9",
    }
    assert manifest["health"]["path"] == "/healthz"
    assert manifest["ports"] == [8080, 9090]


def test_non_shared_volume_with_replicas_is_refused_naming_it() -> None:
    with pytest.raises(PermanentError, match="'cache' is not shared but replicas is 3"):
        render(_spec(replicas=3, volumes=(Volume("cache", "/cache"),)))


def test_health_port_must_be_published() -> None:
    with pytest.raises(PermanentError, match="health port 7000"):
        render(_spec(health=HealthCheck("tcp", port=7000)))


def test_names_that_podman_cannot_take_are_refused() -> None:
    with pytest.raises(PermanentError, match="tenant 'Acme Corp'"):
        render(_spec(tenant="Acme Corp"))


def test_template_reads_back_what_render_wrote() -> None:
    manifest = json.loads(json.dumps(render(_spec())))

    template = Template.parse(manifest)

    assert template.image.endswith("a" * 64)
    assert template.health == HealthCheck("http", port=8080, path="/healthz")
    assert template.secrets == ("DB_PASSWORD",)
    assert template.name(3) == "shera-acme-web-production-r4-3"
    assert template.volume_mounts() == [("shera-acme-web-production-data", "/data")]


def test_template_refuses_a_foreign_or_broken_manifest() -> None:
    with pytest.raises(PermanentError, match="not a podman manifest"):
        Template.parse({"kind": "Deployment"})
    broken = render(_spec())
    del broken["image"]
    with pytest.raises(PermanentError, match="malformed"):
        Template.parse(broken)
