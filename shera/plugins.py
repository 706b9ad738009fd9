"""Bottom layer: the entry-point registry through which executors and step kinds are found.

Built-ins are registered in ``pyproject.toml`` under the same groups as third-party plugins
(``shera.executors``, ``shera.steps``), so nothing is hard-coded. A ``Registry`` is an ordinary object:
build one with ``Registry.from_entry_points()`` and pass it where it is needed (no import-time globals).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from shera.errors import ConfigError

EXECUTORS = "shera.executors"
STEP_KINDS = "shera.steps"


@dataclass
class Registry:
    """Named plugin objects per entry-point group, loaded lazily on first use of a name."""

    groups: dict[str, dict[str, EntryPoint | Any]] = field(default_factory=dict)

    @classmethod
    def from_entry_points(cls, groups: Iterable[str] = (EXECUTORS, STEP_KINDS)) -> Registry:
        registry = cls()
        for group in groups:
            registry.groups[group] = {ep.name: ep for ep in entry_points(group=group)}
        return registry

    def register(self, group: str, name: str, obj: Any) -> None:
        """Add or replace a plugin by hand (tests, embedding)."""
        self.groups.setdefault(group, {})[name] = obj

    def names(self, group: str) -> list[str]:
        return sorted(self.groups.get(group, {}))

    def get(self, group: str, name: str) -> Any:
        """The plugin object; ``ConfigError`` naming the known ones when ``name`` is not registered."""
        members = self.groups.get(group, {})
        if name not in members:
            known = ", ".join(sorted(members)) or "none"
            raise ConfigError(f"unknown {group.rsplit('.', 1)[-1][:-1]} {name!r}; known: {known}")
        obj = members[name]
        if isinstance(obj, EntryPoint):
            try:
                obj = obj.load()
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"plugin {name!r} of {group} cannot be loaded: {exc}") from exc
            members[name] = obj
        return obj
