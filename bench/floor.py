"""Benchmarks: the floor — a bare ASGI callable doing a webhook's essential work, under uvicorn as She-Ra.

``POST /hooks/...``: read the raw body, verify ``X-Hub-Signature-256`` (HMAC-SHA256, constant time), parse the
JSON, and INSERT one row (delivery id, ref, sha) into a SQLite table in its own committed transaction (WAL,
``synchronous=NORMAL``, as She-Ra's store) → 202; a bad signature → 401. ``GET`` anything → 200 (warm-up).
No framework, no thread pool, no ORM, no queue: what any webhook receiver must at least do.

Run as ``python -m bench.floor --port P --db PATH --secret S``; the caller waits until the port answers.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sqlite3
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def make_app(db_path: str, secret: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    connection = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE IF NOT EXISTS deliveries"
        " (id INTEGER PRIMARY KEY, delivery_id TEXT UNIQUE, ref TEXT, sha TEXT)"
    )
    key = secret.encode()

    async def reply(send: Send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await reply(send, 200, b'{"status":"ok"}')
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        received = headers.get(b"x-hub-signature-256", b"").decode()
        if not hmac.compare_digest(expected.encode(), received.encode()):
            await reply(send, 401, b'{"detail":"invalid signature"}')
            return
        data = json.loads(body)
        delivery = headers.get(b"x-github-delivery", b"").decode()
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            cursor = connection.execute(
                "INSERT INTO deliveries (delivery_id, ref, sha) VALUES (?, ?, ?)",
                (delivery, data["ref"], data["after"]),
            )
        await reply(send, 202, json.dumps({"status": "queued", "id": cursor.lastrowid}).encode())

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args(argv)
    # The same uvicorn settings as `shera up` (shera/cli/server_cmd.py: _serve_api).
    config = uvicorn.Config(
        make_app(args.db, args.secret),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    print(f"floor up at http://{args.host}:{args.port}", flush=True)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
