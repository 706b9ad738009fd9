"""Contrib layer (exposure): an in-memory ``Balancer`` for unit tests of code that drives balancers.

It behaves like the real ones from the caller's side: a rejected candidate leaves the old version serving
and reports ``ok=False``; an unchanged version is not reloaded; ``reloads`` and ``applied`` record what
happened. ``reject`` holds the versions (or ``"*"``) to refuse.
"""

from __future__ import annotations

import threading

from shera.contrib.exposure.apply import ApplyResult
from shera.contrib.exposure.render import Rendered


class StubBalancer:
    """A balancer with no process: ``serving`` is the ``Rendered`` it would be serving."""

    def __init__(self, kind: str = "stub") -> None:
        self.kind = kind
        self.running = False
        self.serving: Rendered | None = None
        self.applied: list[Rendered] = []
        self.reloads = 0
        self.reject: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def current_version(self) -> str | None:
        return self.serving.version if self.serving else None

    def served_version(self) -> str | None:
        return self.current_version() if self.running else None

    def apply(self, rendered: Rendered) -> ApplyResult:
        with self._lock:
            old = self.current_version()
            if rendered.version == old and self.running:
                return ApplyResult(True, old, "unchanged: not reloaded", False, rendered.version)
            if rendered.version in self.reject or "*" in self.reject:
                return ApplyResult(
                    False, old, f"stub rejected config {rendered.version}", False, rendered.version
                )
            self.running = True
            self.serving = rendered
            self.applied.append(rendered)
            self.reloads += 1
            return ApplyResult(True, rendered.version, "applied", True, rendered.version)
