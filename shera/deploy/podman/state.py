"""Deploy layer (podman target): the persisted state of each app/environment (JSON, atomic writes).

One file per app/environment, ``<state_dir>/<tenant>/<app>/<environment>.json``::

    {"tenant": ..., "app": ..., "environment": ...,
     "revision": 3 | null,              # the live revision (null before the first successful rollout)
     "manifests": {...} | null,         # its manifest (render() output; replicas follow scale)
     "instances": {NAME: {"revision": 3, "number": 1, "ports": {"8080": 41234}, "serving": true}}}

``instances`` lists every container the target started and has not removed; ``serving`` is true from the
moment the instance passed its health check until just before it is stopped, so the serving endpoints can
be read from the file alone (``shera exec --data-dir D`` and ``shera down`` in another process).

Writes go to a temporary file in the same directory, are fsynced and renamed over the old file, so a reader
never sees half a file. ``update`` serialises read-modify-write across threads and processes with an
``flock`` on a side lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shera.deploy.podman.render import check_part
from shera.errors import PermanentError

AppState = dict[str, Any]


def empty_state(tenant: str, app: str, environment: str) -> AppState:
    return {
        "tenant": tenant,
        "app": app,
        "environment": environment,
        "revision": None,
        "manifests": None,
        "instances": {},
    }


class StateStore:
    """Loads and saves ``AppState`` files under ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, tenant: str, app: str, environment: str) -> Path:
        parts = (check_part("tenant", tenant), check_part("app", app), check_part("environment", environment))
        return self.root / parts[0] / parts[1] / f"{parts[2]}.json"

    def load(self, tenant: str, app: str, environment: str) -> AppState:
        """The state, or an empty one when nothing was ever deployed; ``PermanentError`` when unreadable."""
        path = self.path(tenant, app, environment)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return empty_state(tenant, app, environment)
        except (OSError, ValueError) as exc:
            raise PermanentError(f"deploy state {path} cannot be read: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("instances"), dict):
            raise PermanentError(f"deploy state {path} is not a podman app state")
        return data

    def save(self, state: AppState) -> None:
        path = self.path(state["tenant"], state["app"], state["environment"])
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".state-", dir=path.parent)
        try:
            with os.fdopen(descriptor, "w") as handle:
                json.dump(state, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def locked(self, tenant: str, app: str, environment: str) -> Iterator[None]:
        """Hold the app/environment's lock (``flock`` locks an open file: threads and processes alike);
        not reentrant."""
        path = self.path(tenant, app, environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def update(self, tenant: str, app: str, environment: str, change: Callable[[AppState], None]) -> AppState:
        """Apply ``change`` to the current state under the lock and save it; the new state."""
        with self.locked(tenant, app, environment):
            state = self.load(tenant, app, environment)
            change(state)
            self.save(state)
            return state

    def remove(self, tenant: str, app: str, environment: str) -> None:
        with self.locked(tenant, app, environment):
            self.path(tenant, app, environment).unlink(missing_ok=True)

    def all_ports(self) -> set[int]:
        """Every host port recorded in any app state under ``root``."""
        ports: set[int] = set()
        for path in self.root.glob("*/*/*.json"):
            with contextlib.suppress(OSError, ValueError, AttributeError, TypeError):
                for record in json.loads(path.read_text()).get("instances", {}).values():
                    ports.update(int(port) for port in record.get("ports", {}).values())
        return ports
