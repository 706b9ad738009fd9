"""API layer: liveness (``/healthz``, a database round trip) and Prometheus ``/metrics``; no auth."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shera.api.deps import DbDep
from shera.api.metrics import Metrics
from shera.api.schemas import Status
from shera.store.stats import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(db: DbDep) -> Status:
    """``{"status": "ok"}`` once the database answered; 503 when it does not."""
    ping(db)
    return Status()


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of this app's registry."""
    app_metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
