"""Test support: private nginx/haproxy balancers, named upstream servers and a request loop, all on loopback.

Helpers (usable from any test or the bench):

- ``start_balancer(kind, state_dir, zone="public")`` -> a started ``NginxBalancer``/``HaproxyBalancer`` on a
  free loopback port under ``state_dir`` (skips when the binary is missing; fails instead when ``CI`` is set).
- ``NamedUpstream(name)``: a small threaded HTTP server on ``127.0.0.1:0`` that answers every request with
  its name (body and ``X-Upstream`` header); ``.upstream`` is its ``model.Upstream``; ``.close()``.
- ``fetch(listen, host, path)`` -> ``Reply(status, headers, body)``: one GET on a fresh connection (raw
  socket, ``Connection: close``), headers with lower-case names.
- ``RequestLoop(listen, host, ...)``: threads sending GETs back to back, bounded in count and time; ``stop()``
  returns ``LoopStats`` (requests, failures, rate, bodies and versions seen).

Fixtures (function scope; everything is stopped by pid at teardown): ``nginx_balancer``, ``haproxy_balancer``
(started, public zone, under ``tmp_path``) and ``upstream_servers`` (a factory: ``upstream_servers("a1",
"a2")`` -> ``list[NamedUpstream]``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shera.contrib.exposure.errors import BalancerUnavailable
from shera.contrib.exposure.haproxy import HaproxyBalancer
from shera.contrib.exposure.model import Site, Upstream, ZoneConfig
from shera.contrib.exposure.nginx import NginxBalancer
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.render import VERSION_HEADER, render_haproxy, render_nginx
from tests.support.registry import free_port


def unavailable(reason: str) -> None:
    """Skip the test locally, fail it under CI (real services are required there)."""
    if os.environ.get("CI"):
        pytest.fail(f"balancer tests cannot run: {reason}")
    pytest.skip(f"balancer tests need {reason}")


def start_balancer(kind: str, state_dir: Path, zone: str = "public") -> ManagedBalancer:
    """A started balancer of ``kind`` (``nginx``/``haproxy``) serving an empty zone on a free port."""
    if shutil.which(kind) is None:
        unavailable(f"{kind} (apt-get install {kind})")
    cls = NginxBalancer if kind == "nginx" else HaproxyBalancer
    for _attempt in range(3):
        balancer = cls(state_dir, zone=zone, listen=f"127.0.0.1:{free_port()}")
        try:
            balancer.start()
            return balancer
        except BalancerUnavailable:
            balancer.stop()  # most likely lost the port race; try another port
            for name in (balancer.live, balancer.pid_file):
                name.unlink(missing_ok=True)
    pytest.fail(f"{kind} did not start on a free port: {balancer.log_path.read_text()[-1000:]}")
    raise AssertionError  # unreachable: pytest.fail raises


def apply_sites(balancer: ManagedBalancer, *sites: Site, tls_listen: str | None = None) -> str:
    """Renders ``sites`` for ``balancer`` (its kind, zone and listen address), applies them, asserts the apply
    succeeded and returns the version now served."""
    render = render_haproxy if isinstance(balancer, HaproxyBalancer) else render_nginx
    result = balancer.apply(render(ZoneConfig(balancer.zone, balancer.listen, sites, tls_listen)))
    assert result.ok, result.message
    return result.version or ""


class NamedUpstream:
    """An HTTP server on a free loopback port that answers every GET with its ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes (keep-alive upstreams)

            def do_GET(self) -> None:
                owner.hits += 1
                body = f"{owner.name}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Upstream", owner.name)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: object, client_address: object) -> None:
                return  # a balancer dropping an idle keep-alive connection on reload is not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def upstream(self) -> Upstream:
        return Upstream("127.0.0.1", self.port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def version(self) -> str | None:
        return self.headers.get(VERSION_HEADER.lower())


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2 :]
    return bytes(out)


def fetch(
    listen: str, host: str, path: str = "/", timeout: float = 5.0, tls: ssl.SSLContext | None = None
) -> Reply:
    """One GET on a new connection (TLS with SNI ``host`` when ``tls`` is given); raises ``OSError`` or
    ``ValueError`` when no complete response comes."""
    address, _, port = listen.rpartition(":")
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(
            socket.create_connection((address.strip("[]"), int(port)), timeout=timeout)
        )
        if tls is not None:
            sock = stack.enter_context(tls.wrap_socket(sock, server_hostname=host))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"incomplete response: {head[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = _dechunk(body)
    return Reply(int(lines[0].split()[1]), headers, body.decode(errors="replace"))


def self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (``openssl req``): ``(cert, key)`` with the key at
    ``<cert>.key``, where both nginx and haproxy find it."""
    if shutil.which("openssl") is None:
        unavailable("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    cert = directory / f"{host}.pem"
    key = directory / f"{host}.pem.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=DNS:{host}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class LoopStats:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    bodies: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class RequestLoop:
    """``threads`` clients sending GETs for ``host``/``path`` to ``listen`` until ``stop()``, at most
    ``max_requests`` in total and ``max_seconds`` long; a failure is any error or a status other than 200."""

    def __init__(
        self,
        listen: str,
        host: str,
        path: str = "/",
        *,
        threads: int = 4,
        max_requests: int = 50_000,
        max_seconds: float = 60.0,
    ) -> None:
        self.listen, self.host, self.path = listen, host, path
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.stats = LoopStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self._started = 0.0

    def __enter__(self) -> RequestLoop:
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        deadline = self._started + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self.stats.requests >= self.max_requests:
                    return
                self.stats.requests += 1
            try:
                reply = fetch(self.listen, self.host, self.path)
                problem = None if reply.status == 200 else f"status {reply.status}: {reply.body[:100]}"
            except (OSError, ValueError) as exc:
                problem, reply = f"{type(exc).__name__}: {exc}", None
            with self._lock:
                if problem:
                    self.stats.failures.append(problem)
                elif reply is not None:
                    self.stats.bodies[reply.body.strip()] += 1
                    self.stats.versions[reply.version or "-"] += 1

    def stop(self) -> LoopStats:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        if not self.stats.seconds:
            self.stats.seconds = time.monotonic() - self._started
        return self.stats


@pytest.fixture
def nginx_balancer(tmp_path: Path) -> Iterator[NginxBalancer]:
    """A private nginx (public zone, no sites yet) on a free loopback port under ``tmp_path/nginx``."""
    balancer = start_balancer("nginx", tmp_path / "nginx")
    assert isinstance(balancer, NginxBalancer)
    try:
        yield balancer
    finally:
        balancer.stop()


@pytest.fixture
def haproxy_balancer(tmp_path: Path) -> Iterator[HaproxyBalancer]:
    """A private haproxy (public zone, no sites yet) on a free loopback port under ``tmp_path/haproxy``."""
    balancer = start_balancer("haproxy", tmp_path / "haproxy")
    assert isinstance(balancer, HaproxyBalancer)
    try:
        yield balancer
    finally:
        balancer.stop()


Upstreams = Callable[..., list[NamedUpstream]]
"""The ``upstream_servers`` fixture: named upstream servers from names."""


@pytest.fixture
def upstream_servers() -> Iterator[Upstreams]:
    """A factory of named upstream servers; all are closed at teardown."""
    made: list[NamedUpstream] = []

    def make(*names: str) -> list[NamedUpstream]:
        servers = [NamedUpstream(name) for name in names]
        made.extend(servers)
        return servers

    try:
        yield make
    finally:
        for server in made:
            server.close()
