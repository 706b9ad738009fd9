"""Tests of shera/deploy/podman/instances.py: the ``podman run`` arguments of an instance, as data."""

from __future__ import annotations

from pathlib import Path

import pytest

from shera.deploy.base import DeploySpec, Volume
from shera.deploy.podman.instances import create_args, resource_args, slirp_socket_problem
from shera.deploy.podman.render import Template, render
from shera.errors import PermanentError


def _template(**changes: object) -> Template:
    values: dict[str, object] = {
        "tenant": "acme",
        "app": "web",
        "environment": "prod",
        "revision": 2,
        "image": "localhost/web:2",
        "replicas": 2,
        "ports": (8080, 9090),
        "volumes": (Volume("data", "/data", shared=True),),
    }
    values.update(changes)
    return Template.parse(render(DeploySpec(**values)))  # type: ignore[arg-type]


def test_instance_runs_with_init_no_restart_and_loopback_ports_only() -> None:
    args = create_args(_template(), 2, {8080: 41000, 9090: 41001}, Path("/run/x.env"), ("--env", "A=b\nc"))

    assert args[:2] == ["run", "--detach"]
    assert args[args.index("--name") + 1] == "shera-acme-web-prod-r2-2"
    assert "--init" in args and "--restart=no" in args
    assert args[args.index("--network") + 1] == "slirp4netns:port_handler=slirp4netns"
    publish = [args[i + 1] for i, a in enumerate(args) if a == "--publish"]
    assert publish == ["127.0.0.1:41000:8080", "127.0.0.1:41001:9090"]
    labels = {args[i + 1] for i, a in enumerate(args) if a == "--label"}
    assert {"io.shera.tenant=acme", "io.shera.app=web", "io.shera.environment=prod"} <= labels
    assert {"io.shera.revision=2", "io.shera.instance=2"} <= labels
    assert args[args.index("--volume") + 1] == "shera-acme-web-prod-data:/data"
    assert args[args.index("--env-file") + 1] == "/run/x.env"
    assert args[-3:] == ["--env", "A=b\nc", "localhost/web:2"]
    assert not any("bridge" in a or a.startswith("0.0.0.0") for a in args)  # noqa: S104


def test_resource_limits_become_cpus_and_memory() -> None:
    assert resource_args({"limits": {"cpu": "250m", "memory": "64Mi"}, "requests": {"cpu": "1"}}) == [
        "--cpus",
        "0.25",
        "--memory",
        str(64 * 1024 * 1024),
    ]
    assert resource_args({}) == []
    with pytest.raises(PermanentError, match="memory 'lots'"):
        resource_args({"limits": {"memory": "lots"}})


def test_host_networking_tells_the_app_its_port_and_publishes_nothing() -> None:
    args = create_args(_template(ports=(8080,)), 1, {8080: 41000}, None, network="host")

    assert args[args.index("--network") + 1] == "host"
    assert args[args.index("--env") + 1] == "PORT=41000"
    assert "--publish" not in args
    with pytest.raises(PermanentError, match="one port"):
        create_args(_template(), 1, {8080: 41000, 9090: 41001}, None, network="host")


def test_a_tmp_dir_too_long_for_the_slirp4netns_socket_is_reported(tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    conf.write_text('[engine]\ntmp_dir = "/tmp/' + "x" * 40 + '"\n')
    problem = slirp_socket_problem(conf)
    assert problem is not None and "too long for slirp4netns" in problem

    conf.write_text('[engine]\ntmp_dir = "/tmp/shp-1/c/run/libpod"\n')
    assert slirp_socket_problem(conf) is None
