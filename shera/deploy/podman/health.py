"""Deploy layer (podman target): health probes She-Ra runs itself (podman schedules none without systemd).

- ``http``: ``GET http://127.0.0.1:<host port><path>`` (httpx, no proxies, no redirects followed) answers
  2xx or 3xx within the timeout.
- ``tcp``: a connection to the host port opens *and is not closed at once*. Through slirp4netns port
  forwarding the host side always accepts; when nothing listens inside the container the forwarder closes the
  connection straight away (an immediate EOF), which is what tells a dead port from a live one.
- ``exec``: the command, run in the instance (``podman exec``), exits 0 within the timeout.

Without a health check an instance is ready once running and, when it has ports, once its first port passes
the tcp probe. ``wait_healthy`` polls quickly at first (0.1 s, doubling up to the check's interval) so a
fast app is ready in a fraction of a second, and gives up early when the container has stopped.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from shera.deploy.base import HealthCheck
from shera.deploy.podman.ports import LOOPBACK
from shera.errors import SheraError

ExecProbe = Callable[[Sequence[str], float], int]
"""Runs argv in the instance with a timeout; its exit code."""

Liveness = Callable[[], str | None]
"""``None`` while the instance runs; else why it does not (it exited, it is gone)."""

EOF_GRACE_S = 0.2
FIRST_POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    detail: str


def probe_http(port: int, path: str, timeout: float) -> ProbeResult:
    url = f"http://{LOOPBACK}:{port}{path}"
    try:
        with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        return ProbeResult(False, f"GET {path}: {type(exc).__name__} {exc}".strip())
    if response.status_code < 400:
        return ProbeResult(True, f"GET {path}: {response.status_code}")
    return ProbeResult(False, f"GET {path}: HTTP {response.status_code}")


def probe_tcp(port: int, timeout: float) -> ProbeResult:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.settimeout(min(EOF_GRACE_S, timeout))
            try:
                first = sock.recv(1, socket.MSG_PEEK)
            except TimeoutError:
                return ProbeResult(True, f"port {port} open")
    except OSError as exc:
        return ProbeResult(False, f"port {port}: {exc}")
    if first:
        return ProbeResult(True, f"port {port} open")
    return ProbeResult(False, f"port {port}: connection closed at once (nothing listens in the container)")


def probe(check: HealthCheck | None, ports: Mapping[int, int], run_exec: ExecProbe) -> ProbeResult:
    """One probe of ``check`` against an instance whose container ports map to ``ports`` on 127.0.0.1."""
    if check is None:
        if not ports:
            return ProbeResult(True, "running")
        first = next(iter(ports.values()))
        return probe_tcp(first, 2.0)
    if check.kind == "exec":
        try:
            code = run_exec(check.command, check.timeout_s)
        except SheraError as exc:  # podman could not run it: a failed probe, not a crash
            return ProbeResult(False, f"exec {list(check.command)}: {exc}")
        return ProbeResult(code == 0, f"exec {list(check.command)}: exit {code}")
    if check.port is None or check.port not in ports:
        return ProbeResult(False, f"health port {check.port} is not published")
    if check.kind == "http":
        return probe_http(ports[check.port], check.path, check.timeout_s)
    return probe_tcp(ports[check.port], check.timeout_s)


def wait_healthy(
    check: HealthCheck | None,
    ports: Mapping[int, int],
    run_exec: ExecProbe,
    alive: Liveness,
    *,
    deadline: float,
    cancel: threading.Event | None = None,
) -> ProbeResult:
    """Probe until one probe passes (ok), the instance stops, ``cancel`` is set or the monotonic
    ``deadline`` passes (not ok, with the last reason)."""
    cancel = cancel or threading.Event()
    if check is not None and check.initial_delay_s > 0:
        cancel.wait(max(0.0, min(check.initial_delay_s, deadline - time.monotonic())))
    interval = check.interval_s if check is not None else 1.0
    pause = min(FIRST_POLL_S, interval)
    last = ProbeResult(False, "not probed before the deadline")
    while not cancel.is_set():
        last = probe(check, ports, run_exec)
        if last.ok:
            return last
        stopped = alive()
        if stopped is not None:
            return ProbeResult(False, f"{stopped} (last probe: {last.detail})")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return ProbeResult(False, f"not healthy before the deadline (last probe: {last.detail})")
        cancel.wait(min(pause, remaining))
        pause = min(pause * 2, interval)
    return ProbeResult(False, f"cancelled (last probe: {last.detail})")
