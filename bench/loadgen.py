"""Benchmarks: the webhook load generator — a separate process sending pre-signed requests over N connections.

A minimal HTTP/1.1 keep-alive client on asyncio streams (uvloop when installed): requests are rendered to
bytes before timing, responses are read by ``Content-Length``. httpx costs ~2 ms of CPU per request here,
which would take most of one of this machine's two cores from the server being measured; this client costs
a small fraction of that.

Run as ``python -m bench.loadgen REQUESTS_FILE URL --concurrency 16 [--warm URL] [--warm-requests FILE]``.
``REQUESTS_FILE`` holds one JSON object per line, ``{"headers": {...}, "body": "..."}`` (the body is sent as
its UTF-8 bytes, exactly the bytes that were signed). Before timing, ``--warm`` is fetched once per
connection so the connections are open, and the requests of ``--warm-requests`` (same format) are sent and
not counted, so the server's own pools and caches are warm too. Each request's latency is measured from
just before it is written to when its response was read; the result is one JSON object on stdout:
``{"elapsed": s, "latencies": [s...], "statuses": {"202": n, ...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def _render(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Write one request, read its response (``Content-Length`` bodies only); returns the status code."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def _send_all(
    requests: list[tuple[bytes, dict[str, str]]],
    url: str,
    concurrency: int,
    warm: str | None,
    warm_requests: list[tuple[bytes, dict[str, str]]],
) -> dict[str, Any]:
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    rendered = [_render(target.netloc, target.path, body, headers) for body, headers in requests]
    connections = [await asyncio.open_connection(host, port) for _ in range(concurrency)]
    if warm:
        path = urlsplit(warm).path
        probe = f"GET {path} HTTP/1.1\r\nHost: {target.netloc}\r\n\r\n".encode()
        await asyncio.gather(*(_exchange(r, w, probe) for r, w in connections))
    if warm_requests:
        ahead = iter([_render(target.netloc, target.path, body, headers) for body, headers in warm_requests])

        async def warm_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for request in ahead:
                await _exchange(reader, writer, request)

        await asyncio.gather(*(warm_up(r, w) for r, w in connections))
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    queue = iter(rendered)

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for request in queue:
            began = time.perf_counter()
            try:
                statuses[str(await _exchange(reader, writer, request))] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                statuses[type(exc).__name__] += 1
                return
            finally:
                latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    elapsed = time.perf_counter() - started
    for _reader, writer in connections:
        writer.close()
    return {"elapsed": elapsed, "latencies": latencies, "statuses": dict(statuses)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("requests", type=Path)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warm")
    parser.add_argument("--warm-requests", type=Path)
    args = parser.parse_args(argv)
    requests = _read(args.requests)
    warm_requests = _read(args.warm_requests) if args.warm_requests else []
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_send_all(requests, args.url, args.concurrency, args.warm, warm_requests))
    json.dump(result, sys.stdout)
    return 0


def _read(path: Path) -> list[tuple[bytes, dict[str, str]]]:
    requests = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        requests.append((item["body"].encode(), dict(item["headers"])))
    return requests


def write_requests(path: Path, requests: list[tuple[bytes, dict[str, str]]]) -> None:
    """The file ``main`` reads: one request per line (bodies must be UTF-8 text, as JSON bodies are)."""
    with path.open("w") as out:
        for body, headers in requests:
            out.write(json.dumps({"headers": headers, "body": body.decode()}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
