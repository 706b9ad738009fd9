"""Contrib layer (exposure): probes of a running balancer — its status endpoint and its processes in /proc."""

from __future__ import annotations

import contextlib
import http.client
from pathlib import Path

from shera.contrib.exposure.render import STATUS_HOST, STATUS_PATH


def status_version(listen: str, timeout: float = 1.0) -> str | None:
    """The version a balancer listening on ``listen`` (``IP:PORT``) answers at its status endpoint."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard listener is asked on loopback
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", STATUS_PATH, headers={"Host": STATUS_HOST, "Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace").strip()
        return body if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def pid_alive(pid: int, needle: str) -> bool:
    """``pid`` runs (not a zombie) and its command line contains ``needle`` (guards against pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    # While a process re-executes itself (haproxy's master on reload) its command line reads empty.
    return state not in ("Z", "X") and (needle in cmdline or not cmdline.strip())


def children(pid: int) -> set[int]:
    """The child processes of ``pid`` now (empty when it is gone)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found |= {int(child) for child in (task / "children").read_text().split()}
    return found
