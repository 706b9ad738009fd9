"""API layer: the webhook endpoint ``POST /hooks/{forge}/{project_id}`` — the hot path.

Order (each step before anything of the next is done):
1. unknown forge → 404; ``Content-Length`` over ``webhook_max_bytes`` → 413 before reading the body;
2. read the body, stopping at the cap → 413 without reading the rest;
3. unknown project, or a project of another forge → 404 (projects are kept a second: ``api.hookprojects``);
4. verify the signature on the raw bytes with the project's secret → 401, nothing parsed or stored;
5. parse: malformed body → 200 ``ignored`` (a 4xx would make GitLab disable the hook); ping → 200 ``pong``;
   ignored events → 200 ``ignored``;
6. ``runs.create.create_from_hook`` (one transaction: delivery + run + outbox) → 202 ``queued`` with the run
   id, or 200 ``duplicate``.
Steps 3-6 run in one threadpool call; no git, no Redis.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shera.api.hookprojects import HookProjects
from shera.api.metrics import Metrics
from shera.api.schemas import HookAccepted
from shera.forges.base import BadPayload, Forge
from shera.runs.create import create_from_hook
from shera.store.db import Database

router = APIRouter(tags=["webhooks"])

_ID = re.compile(r"^[0-9a-f]{32}$")


class HookRejected(Exception):
    """A delivery refused with an HTTP status; the message is the response's ``detail``."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code


def _reply(status_code: int, body: HookAccepted) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code)


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise HookRejected(413, f"webhook body larger than {cap} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            raise HookRejected(413, f"webhook body larger than {cap} bytes")
    return bytes(body)


def _accept(
    db: Database,
    projects: HookProjects,
    forge: Forge,
    project_id: str,
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[int, HookAccepted]:
    project = projects.get(project_id) if _ID.match(project_id) else None
    if project is None or project.forge != forge.name:
        raise HookRejected(404, "project not found")
    if not forge.verify(headers, body, project.webhook_secret):
        # The kept secret may be an old one (rotated in another API process): verify against a fresh read.
        project = projects.get(project_id, fresh=True)
        if project is None or project.forge != forge.name:
            raise HookRejected(404, "project not found")
        if not forge.verify(headers, body, project.webhook_secret):
            raise HookRejected(401, "invalid or missing webhook signature")
    try:
        hook = forge.parse(headers, body)
    except BadPayload as exc:
        return 200, HookAccepted(status="ignored", reason=f"malformed payload: {exc}")
    if hook.kind == "ping":
        return 200, HookAccepted(status="pong")
    if hook.kind == "ignored":
        return 200, HookAccepted(status="ignored", reason=hook.reason or None)
    outcome = create_from_hook(db, project, forge.name, hook)
    if outcome.status == "created":
        return 202, HookAccepted(status="queued", run_id=outcome.run_id)
    if outcome.status == "duplicate":
        return 200, HookAccepted(status="duplicate", run_id=outcome.run_id)
    return 200, HookAccepted(status="ignored", reason="no run for this event")


_OUTCOMES = {"queued": "accepted", "duplicate": "duplicate", "ignored": "ignored", "pong": "ignored"}


@router.post(
    "/hooks/{forge}/{project_id}",
    response_model=HookAccepted,
    responses={202: {"model": HookAccepted}, 401: {}, 404: {}, 413: {}},
)
async def receive_hook(forge: str, project_id: str, request: Request) -> JSONResponse:
    """Receive one forge delivery; authenticated by the project's webhook secret, not by a token."""
    forges: dict[str, Forge] = request.app.state.forges
    metrics: Metrics = request.app.state.metrics
    db: Database = request.app.state.db
    adapter = forges.get(forge)
    try:
        if adapter is None:
            raise HookRejected(404, "unknown forge")
        body = await _read_capped(request, request.app.state.settings.webhook_max_bytes)
        projects: HookProjects = request.app.state.hook_projects
        headers = request.headers
        code, reply = await run_in_threadpool(_accept, db, projects, adapter, project_id, headers, body)
    except HookRejected as exc:
        metrics.webhook(forge if adapter else "unknown", "rejected")
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)
    metrics.webhook(forge, _OUTCOMES[reply.status])
    if reply.status == "queued" and reply.run_id:
        request.app.state.run_created(reply.run_id)
    return _reply(code, reply)
