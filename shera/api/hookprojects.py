"""API layer: the projects the webhook endpoint verifies against, read at most once a second per process.

A flood of deliveries for one project (a busy monorepo, a replay) would otherwise open a database read per
delivery just to learn the project's forge and webhook secret. ``HookProjects.get`` keeps each project it
read for ``ttl`` seconds (at most ``size`` of them). Consequences, and how they stay bounded:

- a delivery that fails verification against a kept secret is verified again against a fresh read, so a
  rotated secret works at once everywhere;
- the project routes of this process drop their project when they change or delete it (``forget``), so
  here a rotated-out secret stops verifying at once; in other API processes it does within ``ttl``;
- an unknown id is never kept (a project created a moment ago is found at once).
"""

from __future__ import annotations

import threading
import time

from shera.model.records import ProjectRecord
from shera.store.db import Database
from shera.store.projects import get_project


class HookProjects:
    """Recently read projects by id; thread-safe."""

    def __init__(self, db: Database, *, ttl: float = 1.0, size: int = 4096) -> None:
        self.db = db
        self.ttl = ttl
        self.size = size
        self._kept: dict[str, tuple[float, ProjectRecord]] = {}
        self._lock = threading.Lock()

    def get(self, project_id: str, *, fresh: bool = False) -> ProjectRecord | None:
        """The project (any tenant's), or None; read from the database when ``fresh`` or not kept."""
        now = time.monotonic()
        if not fresh:
            with self._lock:
                kept = self._kept.get(project_id)
            if kept is not None and kept[0] > now:
                return kept[1]
        project = get_project(self.db, project_id, None)
        with self._lock:
            if project is None:
                self._kept.pop(project_id, None)
                return None
            if len(self._kept) >= self.size:
                self._kept = {key: value for key, value in self._kept.items() if value[0] > now}
                if len(self._kept) >= self.size:
                    self._kept.clear()
            self._kept[project_id] = (now + self.ttl, project)
        return project

    def forget(self, project_id: str) -> None:
        with self._lock:
            self._kept.pop(project_id, None)
