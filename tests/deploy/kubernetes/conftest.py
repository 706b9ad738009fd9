"""Fixtures for the kubernetes target tests: the ``kmock`` emulator (extended, see ``support``) and a target
bound to it through a kubeconfig file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shera.deploy.kubernetes.target import KubernetesTarget
from tests.deploy.kubernetes.support import ApplyingEmulator
from tests.support.output import Sink


@pytest.fixture
def kmock_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``kmock`` fixture (kmock's pytest plugin) builds an ``ApplyingEmulator``;
    ``@pytest.mark.kmock(ssa=False)`` switches its server-side apply off."""
    options: dict[str, Any] = {"cls": ApplyingEmulator}
    for marker in reversed(list(request.node.iter_markers("kmock"))):
        options.update(marker.kwargs)
    return options


@pytest.fixture
def kubeconfig(kmock: ApplyingEmulator, tmp_path: Path) -> Path:
    """A kubeconfig file pointing at the emulator (plain HTTP on loopback, a dummy token)."""
    server = str(kmock.url).rstrip("/")
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": server}}],
        "users": [{"name": "shera", "user": {"token": "test-token"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "shera"}}],
        "current-context": "kmock",
    }
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def target(kubeconfig: Path) -> Iterator[KubernetesTarget]:
    made = KubernetesTarget(kubeconfig=kubeconfig, poll_interval=0.02)
    yield made
    made.close()


@pytest.fixture
def out() -> Sink:
    return Sink()
