"""Tests of shera/deploy/podman/health.py: probes against real loopback servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shera.deploy.base import HealthCheck
from shera.deploy.podman.health import probe, wait_healthy
from shera.deploy.podman.ports import free_port


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def http_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def closing_port() -> Iterator[int]:
    """A port that accepts and closes at once: what slirp4netns does when nothing listens inside."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    listener.close()


def _no_exec(_argv: Sequence[str], _timeout: float) -> int:
    raise AssertionError("no exec expected")


def test_http_probe_passes_on_2xx_and_fails_on_404(http_port: int) -> None:
    good = HealthCheck("http", port=80, path="/healthz")
    bad = HealthCheck("http", port=80, path="/missing")

    assert probe(good, {80: http_port}, _no_exec).ok
    result = probe(bad, {80: http_port}, _no_exec)
    assert not result.ok
    assert "404" in result.detail


def test_tcp_probe_tells_a_listening_port_from_a_forwarder_that_closes(
    http_port: int, closing_port: int
) -> None:
    check = HealthCheck("tcp", port=80)

    assert probe(check, {80: http_port}, _no_exec).ok
    closed = probe(check, {80: closing_port}, _no_exec)
    assert not closed.ok
    assert "closed at once" in closed.detail
    assert not probe(check, {80: free_port()}, _no_exec).ok


def test_exec_probe_uses_the_exit_code() -> None:
    check = HealthCheck("exec", command=("test", "-f", "/ready"))
    seen: list[Sequence[str]] = []

    def run(argv: Sequence[str], _timeout: float) -> int:
        seen.append(argv)
        return 1

    assert not probe(check, {}, run).ok
    assert seen == [("test", "-f", "/ready")]
    assert probe(check, {}, lambda _a, _t: 0).ok


def test_wait_healthy_gives_up_at_the_deadline_with_the_last_reason(http_port: int) -> None:
    check = HealthCheck("http", port=80, path="/missing", interval_s=0.2)
    started = time.monotonic()

    result = wait_healthy(check, {80: http_port}, _no_exec, lambda: None, deadline=started + 0.8)

    assert not result.ok
    assert "HTTP 404" in result.detail
    assert 0.7 < time.monotonic() - started < 2.0


def test_wait_healthy_stops_early_when_the_instance_has_exited(http_port: int) -> None:
    check = HealthCheck("http", port=80, path="/missing")
    started = time.monotonic()

    result = wait_healthy(
        check, {80: http_port}, _no_exec, lambda: "exited (exit code 3)", deadline=started + 30
    )

    assert not result.ok
    assert "exit code 3" in result.detail
    assert time.monotonic() - started < 1.0


def test_wait_healthy_returns_as_soon_as_the_app_answers(http_port: int) -> None:
    check = HealthCheck("http", port=80, path="/healthz", interval_s=5)
    started = time.monotonic()

    result = wait_healthy(check, {80: http_port}, _no_exec, lambda: None, deadline=started + 10)

    assert result.ok
    assert time.monotonic() - started < 0.5
