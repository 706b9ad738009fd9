"""Benchmarks: the floor — a bare ASGI callable doing a webhook's essential work, under uvicorn as She-Ra.

``POST /hooks/...``: read the raw body, verify ``X-Hub-Signature-256`` (HMAC-SHA256, constant time), parse the
JSON, and INSERT one row (delivery id, ref, sha) into a SQLite table in its own committed transaction (WAL,
``synchronous=NORMAL``, as She-Ra's store) → 202; a bad signature → 401. ``GET`` anything → 200 (warm-up).
No framework, no thread pool, no ORM, no queue: what any webhook receiver must at least do.

With ``--step CMD`` (repeatable) it is the floor of a run too: after the INSERT it runs each ``CMD`` with
``/bin/sh -c`` in turn, in the handler itself, and answers 202 ``{"first_started": t, "finished": t}`` (epoch
seconds: just before the first command was started, and after the last one ended; a command that fails
makes it answer 500). No checkout, no plan, no log store, no lease: the commands alone.

Run as ``python -m bench.floor --port P --db PATH --secret S [--step CMD ...]``; the caller waits until the
port answers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def run_steps(steps: list[str]) -> tuple[float, float, bool]:
    """Run ``steps`` in turn (``/bin/sh -c``, output discarded); (first started, finished, all succeeded)."""
    first = time.time()
    for command in steps:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        if await process.wait() != 0:
            return first, time.time(), False
    return first, time.time(), True


def make_app(
    db_path: str, secret: str, steps: list[str] | None = None
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
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
        if not steps:
            await reply(send, 202, json.dumps({"status": "queued", "id": cursor.lastrowid}).encode())
            return
        first, finished, ok = await run_steps(steps)
        times = {"first_started": first, "finished": finished}
        await reply(send, 202 if ok else 500, json.dumps(times).encode())

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--step", action="append", default=[])
    args = parser.parse_args(argv)
    # The same uvicorn settings as `shera up` (shera/cli/server_cmd.py: _serve_api).
    config = uvicorn.Config(
        make_app(args.db, args.secret, args.step),
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
