"""Serve ``app.wsgi:application`` on ``$HOST:$PORT`` (default 0.0.0.0:8000) with a threaded WSGI server."""

from __future__ import annotations

import os
import signal
import sys
from socketserver import ThreadingMixIn
from types import FrameType
from wsgiref.simple_server import WSGIServer, make_server

from app.wsgi import application


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _stop(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)


def main() -> None:
    host = os.environ.get("HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "8000"))
    signal.signal(signal.SIGTERM, _stop)
    with make_server(host, port, application, server_class=ThreadingWSGIServer) as server:
        print(f"python-web listening on {host}:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
