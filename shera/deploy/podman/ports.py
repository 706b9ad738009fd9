"""Deploy layer (podman target): free 127.0.0.1 ports for instances, and the record of who has which.

A port is found by binding a socket to ``127.0.0.1:0`` (the kernel picks a free one) and closing it; ports
recorded for other instances are skipped even when momentarily free (a stopped-but-recorded instance may
start again). Between the close and podman's own bind another process could take the port: the caller
retries with a fresh port when podman reports the address in use (``port_in_use``).
"""

from __future__ import annotations

import socket
from collections.abc import Collection, Iterable

LOOPBACK = "127.0.0.1"
_ATTEMPTS = 64


def free_port(exclude: Collection[int] = ()) -> int:
    """A port on 127.0.0.1 that is free now and not in ``exclude``."""
    for _ in range(_ATTEMPTS):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port
    raise OSError("no free port on 127.0.0.1 outside the recorded ones")


def allocate(container_ports: Iterable[int], taken: Collection[int] = ()) -> dict[int, int]:
    """A distinct free host port for each container port: ``{container_port: host_port}``."""
    used = set(taken)
    mapping: dict[int, int] = {}
    for container_port in container_ports:
        port = free_port(used)
        used.add(port)
        mapping[container_port] = port
    return mapping


def port_in_use(message: str) -> bool:
    """Whether podman's error says the host port was taken (retry with another port)."""
    lowered = message.lower()
    return "address already in use" in lowered or "port is already allocated" in lowered
