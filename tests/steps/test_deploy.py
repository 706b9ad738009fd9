"""``uses: deploy``: the with: model and its cross-field rules."""

from __future__ import annotations

import pytest

from shera.steps.deploy import DeployWith, Strategy
from tests.steps.support import errors_of, one_error


def test_minimal_deploy_has_the_documented_defaults() -> None:
    deploy = DeployWith.model_validate({"app": "web"})
    assert deploy.deadline == 120.0
    assert deploy.rollback == "auto"
    assert deploy.replicas == 1
    assert deploy.strategy == Strategy(type="rolling", max_surge=1, max_unavailable=0)
    assert deploy.target is None and deploy.image is None and deploy.environment is None


def test_a_full_deploy_is_read_as_written() -> None:
    deploy = DeployWith.model_validate(
        {
            "target": "kubernetes",
            "app": "web",
            "environment": "staging",
            "image": "registry:5000/team/web:${CI_COMMIT_SHA:0:8}",
            "replicas": 3,
            "ports": [8080],
            "env": {"PORT": 8080, "TOKEN": {"from_secret": "api_token"}},
            "secrets": ["DB_PASSWORD", {"source": "db_user", "target": "DB_USER"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
            "volumes": [{"name": "uploads", "mount": "/srv/uploads", "size": "5Gi", "shared": True}],
            "health": {"http": {"path": "/healthz", "port": 8080}, "initial_delay": "5s", "timeout": 2},
            "strategy": {"type": "rolling", "max_surge": "25%", "max_unavailable": 0},
            "node_selector": {"disk": "ssd"},
            "deadline": "2m",
            "rollback": "manual",
        }
    )
    assert deploy.env["PORT"] == "8080"
    assert deploy.health is not None and deploy.health.port == 8080 and deploy.health.initial_delay == 5.0
    assert deploy.deadline == 120.0


def test_replicas_with_an_unshared_volume_names_the_volume() -> None:
    data = {
        "app": "web",
        "replicas": 3,
        "volumes": [{"name": "cache", "mount": "/c", "shared": True}, {"name": "uploads", "mount": "/u"}],
    }
    loc, kind, message = one_error(DeployWith, data)
    # `shared` is not written, so the error points at the volume itself
    assert (loc, kind) == (("volumes", 1), "volume_not_shared")
    assert "'uploads'" in message and "replicas is 3" in message
    data["volumes"][1]["shared"] = False  # type: ignore[index]
    assert one_error(DeployWith, data)[0] == ("volumes", 1, "shared")


def test_one_replica_may_use_an_unshared_volume() -> None:
    DeployWith.model_validate({"app": "web", "volumes": [{"name": "data", "mount": "/data"}]})


@pytest.mark.parametrize("probe", [{"http": {"port": 9090}}, {"tcp": {"port": 9090}}])
def test_health_port_must_be_one_of_ports(probe: dict[str, object]) -> None:
    loc, kind, message = one_error(DeployWith, {"app": "web", "ports": [8080], "health": probe})
    assert loc == ("health", next(iter(probe)), "port") and kind == "health_port"
    assert "9090" in message and "[8080]" in message


def test_health_needs_exactly_one_probe() -> None:
    loc, kind, _ = one_error(
        DeployWith, {"app": "web", "health": {"exec": {"command": ["true"]}, "tcp": {"port": 1}}}
    )
    assert (loc, kind) == (("health",), "health")


def test_unknown_target_lists_the_known_ones() -> None:
    loc, _, message = one_error(DeployWith, {"app": "web", "target": "nomad"})
    assert loc == ("target",)
    assert "kubernetes" in message and "podman" in message


@pytest.mark.parametrize("short", ["rolling", "recreate"])
def test_strategy_accepts_the_bare_name(short: str) -> None:
    assert DeployWith.model_validate({"app": "web", "strategy": short}).strategy.type == short


def test_strategy_rules() -> None:
    assert one_error(DeployWith, {"app": "w", "strategy": {"type": "recreate", "max_surge": 2}})[0] == (
        "strategy",
    )
    assert one_error(DeployWith, {"app": "w", "strategy": {"max_surge": 0, "max_unavailable": 0}})[0] == (
        "strategy",
    )


def test_bad_values_are_each_located() -> None:
    errors = errors_of(
        DeployWith,
        {
            "app": "Web_App",
            "environment": "prod env",
            "replicas": 0,
            "ports": [0, 70000],
            "rollback": "sometimes",
            "deadline": "soon",
            "env": {"1BAD": "x"},
        },
    )
    locs = {loc for loc, _, _ in errors}
    assert {("app",), ("environment",), ("replicas",), ("ports", 0), ("ports", 1), ("rollback",)} <= locs
    assert {("deadline",)} <= locs
    assert any(loc[0] == "env" for loc in locs)


def test_app_is_required() -> None:
    assert one_error(DeployWith, {})[:2] == (("app",), "missing")


def test_duplicate_ports_and_volume_names() -> None:
    errors = errors_of(
        DeployWith,
        {
            "app": "w",
            "ports": [80, 80],
            "volumes": [{"name": "a", "mount": "/a"}, {"name": "a", "mount": "/b"}],
        },
    )
    assert {loc for loc, _, _ in errors} == {("ports",), ("volumes",)}
