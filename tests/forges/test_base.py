"""Forges are found through a Registry (entry points in production), instantiated once per load."""

from __future__ import annotations

from shera.forges.base import FORGES, Forge, load_forges
from shera.forges.gitea import Gitea
from shera.forges.github import GitHub
from shera.forges.gitlab import GitLab
from shera.forges.gogs import Gogs
from shera.forges.stub import StubForge
from shera.plugins import Registry


def test_load_forges_instantiates_registered_classes_and_keeps_objects() -> None:
    registry = Registry()
    for cls in (GitHub, GitLab, Gitea, Gogs):
        registry.register(FORGES, cls.name, cls)
    stub = StubForge()
    registry.register(FORGES, "stub", stub)
    forges = load_forges(registry)
    assert sorted(forges) == ["gitea", "github", "gitlab", "gogs", "stub"]
    assert forges["stub"] is stub
    for name, forge in forges.items():
        assert isinstance(forge, Forge) and forge.name == name
