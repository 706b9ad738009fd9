"""Test support: a tiny recording HTTP server on 127.0.0.1 (real sockets) for commit statuses and replays."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """What the server received, and what it answers (``status``, ``reply``)."""

    url: str = ""
    status: int = 201
    reply: bytes = b'{"status": "accepted"}'
    requests: list[Request] = field(default_factory=list)


@contextmanager
def recording_server(status: int = 201, reply: bytes = b'{"status": "accepted"}') -> Iterator[Recorder]:
    """Serve on a free loopback port in a thread; record every request; stop and join on exit."""
    recorder = Recorder(status=status, reply=reply)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {key.lower(): value for key, value in self.headers.items()}
            recorder.requests.append(Request("POST", self.path, headers, body))
            self.send_response(recorder.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(recorder.reply)))
            self.end_headers()
            self.wfile.write(recorder.reply)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
