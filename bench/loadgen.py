"""Benchmarks: the webhook load generator — a separate process sending pre-signed requests over N connections.

Run as ``python -m bench.loadgen REQUESTS_FILE URL --concurrency 16 [--warm URL]``. ``REQUESTS_FILE`` holds
one JSON object per line, ``{"headers": {...}, "body": "..."}`` (the body is sent as its UTF-8 bytes, exactly
the bytes that were signed). Before timing, ``--warm`` is fetched once per connection so the connections are
open. Each request's latency is measured from just before it is written to when its response was read; the
result is one JSON object on stdout: ``{"elapsed": s, "latencies": [s...], "statuses": {"202": n, ...}}``.
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

import httpx


async def _send_all(requests: list[tuple[bytes, dict[str, str]]], url: str, concurrency: int, warm: str | None) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        if warm:
            await asyncio.gather(*(client.get(warm) for _ in range(concurrency)))
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        queue = iter(requests)

        async def worker() -> None:
            for body, headers in queue:
                began = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    statuses[str(response.status_code)] += 1
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "statuses": dict(statuses)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("requests", type=Path)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warm")
    args = parser.parse_args(argv)
    requests = []
    for line in args.requests.read_text().splitlines():
        item = json.loads(line)
        requests.append((item["body"].encode(), dict(item["headers"])))
    result = asyncio.run(_send_all(requests, args.url, args.concurrency, args.warm))
    json.dump(result, sys.stdout)
    return 0


def write_requests(path: Path, requests: list[tuple[bytes, dict[str, str]]]) -> None:
    """The file ``main`` reads: one request per line (bodies must be UTF-8 text, as JSON bodies are)."""
    with path.open("w") as out:
        for body, headers in requests:
            out.write(json.dumps({"headers": headers, "body": body.decode()}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
