"""API layer: Prometheus metrics of one app, in a registry owned by that app (never the global one).

Request counts and latency are labelled by route template (``/api/v1/runs/{run_id}``), never by raw path, so
ids cannot blow up cardinality. Runs by status are counted from the database at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shera.store.db import StoreError, StoreUnavailable

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class RunsCollector(Collector):
    """``shera_runs{status=…}`` gauges read through ``count`` when scraped; nothing when the store is down."""

    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("shera_runs", "Runs in the database by status", labels=["status"])
        try:
            counts = self._count()
        except (StoreError, StoreUnavailable):
            counts = {}
        for status, value in sorted(counts.items()):
            family.add_metric([status], value)
        yield family


class Metrics:
    """The app's metric objects; ``registry`` is what ``GET /metrics`` exposes."""

    def __init__(self, count_runs: Callable[[], dict[str, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shera_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shera_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            "shera_webhooks",
            "Webhook deliveries by forge and outcome (accepted, duplicate, ignored, rejected, failed)",
            ["forge", "outcome"],
            registry=self.registry,
        )
        self.registry.register(RunsCollector(count_runs))

    def webhook(self, forge: str, outcome: str) -> None:
        self.webhooks.labels(forge=forge, outcome=outcome).inc()


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request (cheaper than ``BaseHTTPMiddleware``)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method=method, route=route, status=str(code)).inc()
            self.metrics.latency.labels(method=method, route=route).observe(time.perf_counter() - started)
