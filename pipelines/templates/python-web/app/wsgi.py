"""The WSGI application: ``/`` greets, ``/healthz`` answers ``ok`` for health checks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _reply(start: StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        return _reply(start_response, "200 OK", b"ok\n", "text/plain; charset=utf-8")
    if path == "/":
        greeting = {"message": "hello from python-web", "version": os.environ.get("APP_VERSION", "dev")}
        return _reply(start_response, "200 OK", json.dumps(greeting).encode() + b"\n", "application/json")
    return _reply(start_response, "404 Not Found", b"not found\n", "text/plain; charset=utf-8")
