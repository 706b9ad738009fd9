"""Contrib layer (exposure): the embedded balancer — a private nginx per zone under a data directory.

``shera up`` and ``shera exec --data-dir D`` serve the ``public`` zone through an nginx whose prefix, config,
pid file and logs live in ``D/expose/<zone>/``. It listens on the address given (``SHERA_EXPOSE_LISTEN``),
else on the address its live config already has (a balancer left running by an earlier ``shera exec`` is
adopted, on the same port), else on a free loopback port. It outlives the process that started it (own
session) until ``stop_all(D)`` — ``shera down --data-dir D`` — stops it by pid.

``Embedded`` bundles the pieces for one data directory: the balancers, the endpoint sources (the podman
target's state under D; plus any given) and an ``ExposureController`` over the given database.
"""

from __future__ import annotations

import atexit
import logging
import socket
from collections.abc import Mapping
from pathlib import Path

from shera.contrib.exposure.apply import Balancer
from shera.contrib.exposure.controller import ExposureController, Listen
from shera.contrib.exposure.model import check_listen
from shera.contrib.exposure.nginx import NginxBalancer
from shera.contrib.exposure.sources import EndpointSource, PodmanSource
from shera.errors import SheraError
from shera.store.db import Database

log = logging.getLogger(__name__)

EXPOSE_DIR = "expose"
ZONES = ("public", "internal")


def zone_dir(data_dir: Path, zone: str) -> Path:
    return data_dir / EXPOSE_DIR / zone


def free_loopback() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def balancer_for(data_dir: Path, zone: str) -> NginxBalancer:
    return NginxBalancer(zone_dir(data_dir, zone), zone=zone)


def listen_for(balancer: NginxBalancer, wanted: str | None) -> str:
    """``wanted`` when given, else the address the live config has, else a free loopback port."""
    if wanted:
        return check_listen("expose listen", wanted)
    url = balancer.url
    return url.removeprefix("http://") if url else free_loopback()


def stop_all(data_dir: Path) -> list[str]:
    """Stop every embedded balancer under ``data_dir`` (by pid); the zones that were running."""
    stopped = []
    for zone in ZONES:
        if not zone_dir(data_dir, zone).is_dir():
            continue
        balancer = balancer_for(data_dir, zone)
        if balancer.pid() is not None:
            balancer.stop()
            stopped.append(zone)
    return stopped


class Embedded:
    """The embedded exposure of one data directory (see the module docstring).

    ``listen`` maps zones to ``IP:PORT`` (the zones served; default: ``public`` on an adopted or free
    address). ``start`` starts the balancers and the controller threads; ``close`` stops the controller
    (after a final pass) and, only when ``stop_balancers``, the balancers.
    """

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        *,
        listen: Mapping[str, str | None] | None = None,
        sources: Mapping[str, EndpointSource] | None = None,
        resync_interval: float = 30.0,
    ) -> None:
        self.data_dir = data_dir
        wanted = dict(listen) if listen is not None else {"public": None}
        self.balancers: dict[str, NginxBalancer] = {z: balancer_for(data_dir, z) for z in wanted}
        self.addresses = {z: listen_for(self.balancers[z], wanted[z]) for z in wanted}
        for zone, address in self.addresses.items():
            self.balancers[zone].listen = address  # the empty config a first start serves
        found: dict[str, EndpointSource] = {"podman": PodmanSource.for_data_dir(data_dir)}
        found.update(sources or {})
        balancers: dict[str, Balancer] = dict(self.balancers)
        self.controller = ExposureController(
            db,
            found,
            balancers,
            listen={z: Listen(a) for z, a in self.addresses.items()},
            resync_interval=resync_interval,
        )
        self._started = False

    def url(self, zone: str = "public") -> str:
        return f"http://{self.addresses[zone]}"

    def start(self, *, at_exit: bool = False) -> None:
        """Run a first pass (which starts each balancer with its config) and the controller threads;
        with ``at_exit``, a last pass also runs when the interpreter exits (``shera exec``)."""
        if self._started:
            return
        self._started = True
        self.controller.sync()
        self.controller.start()
        if at_exit:
            atexit.register(self.close)

    def close(self, *, stop_balancers: bool = False) -> None:
        """Final pass, stop the controller; the balancers too when asked. Idempotent."""
        if self._started:
            self._started = False
            try:
                if all(b.pid() is not None for b in self.balancers.values()):  # not after `shera down`
                    self.controller.sync()
            except SheraError as exc:
                log.warning("last exposure pass failed: %s", exc)
            self.controller.stop()
        if stop_balancers:
            for balancer in self.balancers.values():
                balancer.stop()
