"""Contrib layer (exposure): where an exposed app's instances answer — the ``EndpointSource`` protocol and the
podman source (the Kubernetes source is ``kubesource``).

Contract of an ``EndpointSource``:
- ``endpoints(tenant, app, environment, port=None)`` reads the instances serving NOW and returns their
  upstreams, sorted and without duplicates; empty when the app has no serving instance (or does not exist
  on this source). ``port`` picks the app's container port; None means its first (primary) port. It raises
  only ``shera.errors`` types: ``TemporaryError`` when the platform did not answer (the controller keeps the
  upstreams it had), ``PermanentError`` when the app cannot be exposed as configured.
- ``watch(callback, stop)`` blocks until ``stop`` is set, calling ``callback()`` (no arguments) soon after
  anything that may change some app's endpoints; spurious calls are allowed, missed ones are not expected
  but the controller's periodic resync repairs them. It runs in its own thread; ``callback`` must be cheap
  and thread-safe (the controller only sets a flag). It never raises: errors are logged and retried.
- Both may be called from different threads at the same time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable

from shera.contrib.exposure.model import Upstream
from shera.deploy.podman.ports import LOOPBACK
from shera.deploy.podman.state import StateStore
from shera.errors import PermanentError, SheraError

log = logging.getLogger(__name__)

Callback = Callable[[], None]


@runtime_checkable
class EndpointSource(Protocol):
    """Endpoints of exposed apps on one platform; see the module docstring for the contract."""

    name: str

    def endpoints(
        self, tenant: str, app: str, environment: str, port: int | None = None
    ) -> tuple[Upstream, ...]: ...

    def watch(self, callback: Callback, stop: threading.Event) -> None: ...


def unique_sorted(upstreams: Iterable[Upstream]) -> tuple[Upstream, ...]:
    return tuple(sorted(set(upstreams), key=lambda u: (u.host, u.port)))


class PodmanSource:
    """The podman target's instances, read from its state files (``shera.deploy.podman.state``) only.

    An instance counts while its record says ``serving`` (set after its health check passed, cleared just
    before it is stopped), so a rolling replacement or a scale-down leaves the balancer before the container
    goes away. ``watch`` polls the state files' modification times every ``poll_interval`` seconds (no
    podman call; works for state written by any process, e.g. an earlier ``shera exec``).
    """

    name = "podman"

    def __init__(self, state_dir: Path, *, poll_interval: float = 0.1) -> None:
        self.store = StateStore(state_dir)
        self.poll_interval = poll_interval

    @classmethod
    def for_data_dir(cls, data_dir: Path, **kwargs: float) -> PodmanSource:
        """The source over the state the podman target keeps by default under ``data_dir``."""
        return cls(data_dir / "deploy" / "podman", **kwargs)

    def endpoints(
        self, tenant: str, app: str, environment: str, port: int | None = None
    ) -> tuple[Upstream, ...]:
        state = self.store.load(tenant, app, environment)
        found = []
        for name, record in state["instances"].items():
            if not record.get("serving"):
                continue
            ports = {str(k): v for k, v in (record.get("ports") or {}).items()}
            if port is None:
                host_port = record.get("primary")
            elif str(port) in ports:
                host_port = ports[str(port)]
            else:
                known = ", ".join(sorted(ports)) or "none"
                raise PermanentError(
                    f"{app} in {environment} does not publish port {port} (instance {name}: {known})"
                )
            if host_port is not None:
                found.append(Upstream(host=LOOPBACK, port=int(host_port)))
        return unique_sorted(found)

    def _signature(self) -> frozenset[tuple[str, int, int]]:
        marks = set()
        for path in self.store.root.glob("*/*/*.json"):
            try:
                stat = path.stat()
            except OSError:  # replaced or removed between glob and stat: the next poll sees it
                continue
            marks.add((str(path), stat.st_mtime_ns, stat.st_size))
        return frozenset(marks)

    def watch(self, callback: Callback, stop: threading.Event) -> None:
        seen = self._signature()
        while not stop.wait(self.poll_interval):
            now = self._signature()
            if now != seen:
                seen = now
                try:
                    callback()
                except SheraError as exc:
                    log.warning("podman source: callback failed: %s", exc)
