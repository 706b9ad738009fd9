"""Deploy layer: the deploy targets, found by name in the registry group ``shera.deploy_targets``.

An entry point names either a ``DeployTarget`` instance or a factory (usually the target class) that is
called once, on first use, with those of the keyword arguments ``data_dir`` (She-Ra's state directory) and
``settings`` that its signature accepts. Unknown names are a ``ConfigError`` listing the known ones.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Any

from shera.deploy.base import DEPLOY_TARGETS, DeployTarget
from shera.errors import ConfigError
from shera.plugins import Registry


class Targets:
    """Lazily built deploy targets by name; thread-safe (each target is built once)."""

    def __init__(self, registry: Registry, *, data_dir: Path | None = None, settings: Any = None) -> None:
        self._registry = registry
        self._kwargs: dict[str, Any] = {"data_dir": data_dir, "settings": settings}
        self._built: dict[str, DeployTarget] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_entry_points(cls, *, data_dir: Path | None = None, settings: Any = None) -> Targets:
        return cls(Registry.from_entry_points([DEPLOY_TARGETS]), data_dir=data_dir, settings=settings)

    def names(self) -> list[str]:
        return self._registry.names(DEPLOY_TARGETS)

    def get(self, name: str) -> DeployTarget:
        """The target ``name``; ``ConfigError`` for an unknown or unusable one."""
        with self._lock:
            if name in self._built:
                return self._built[name]
            plugin = self._registry.get(DEPLOY_TARGETS, name)
            target = plugin if isinstance(plugin, DeployTarget) and not isinstance(plugin, type) else None
            if target is None:
                if not callable(plugin):
                    raise ConfigError(f"deploy target {name!r} is not a target or a factory of one")
                target = plugin(**self._accepted(plugin))
                if not isinstance(target, DeployTarget):
                    raise ConfigError(f"deploy target {name!r} does not implement the DeployTarget protocol")
            self._built[name] = target
            return target

    def _accepted(self, factory: Any) -> dict[str, Any]:
        try:
            params = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            return {}
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return {k: v for k, v in self._kwargs.items() if v is not None}
        return {k: v for k, v in self._kwargs.items() if k in params and v is not None}
