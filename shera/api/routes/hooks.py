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

``deliver`` does all of it. ``HookFastPath``, a pure ASGI middleware of the app, calls it for every
``POST /hooks/<forge>/<project>`` without the framework's routing, dependency and response machinery (a
flood of deliveries is what the server must take fastest); the FastAPI route below is the same endpoint for
the OpenAPI schema, and serves it when the app is mounted under a prefix the middleware does not see.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, State
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from shera.api.errors import mapped
from shera.api.hookprojects import HookProjects
from shera.api.metrics import Metrics
from shera.api.schemas import HookAccepted
from shera.forges.base import BadPayload, Forge
from shera.runs.create import create_from_hook
from shera.store.db import Database

router = APIRouter(tags=["webhooks"])

PATH = "/hooks/{forge}/{project_id}"
_PATH = re.compile(r"^/hooks/(?P<forge>[^/]+)/(?P<project_id>[^/]+)$")
_ID = re.compile(r"^[0-9a-f]{32}$")
_OUTCOMES = {"queued": "accepted", "duplicate": "duplicate", "ignored": "ignored", "pong": "ignored"}


class HookRejected(Exception):
    """A delivery refused with an HTTP status; the message is the response's ``detail``."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code


async def _read_capped(headers: Mapping[str, str], chunks: AsyncIterator[bytes], cap: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise HookRejected(413, f"webhook body larger than {cap} bytes")
    body = bytearray()
    async for chunk in chunks:
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


async def deliver(
    state: State, forge: str, project_id: str, headers: Mapping[str, str], chunks: AsyncIterator[bytes]
) -> tuple[int, dict[str, Any]]:
    """Take one delivery (see the module docstring); (status, JSON body) of the answer. She-Ra's errors
    become their usual answers (a database that is down: 503); anything else propagates (a bug)."""
    forges: dict[str, Forge] = state.forges
    metrics: Metrics = state.metrics
    adapter = forges.get(forge)
    try:
        if adapter is None:
            raise HookRejected(404, "unknown forge")
        body = await _read_capped(headers, chunks, state.settings.webhook_max_bytes)
        args = (state.db, state.hook_projects, adapter, project_id, headers, body)
        code, reply = await run_in_threadpool(_accept, *args)
    except HookRejected as exc:
        metrics.webhook(forge if adapter else "unknown", "rejected")
        return exc.status_code, {"detail": str(exc)}
    except Exception as exc:
        answer = mapped(exc)
        if answer is None:
            raise
        metrics.webhook(forge, "failed")
        return answer
    metrics.webhook(forge, _OUTCOMES[reply.status])
    if reply.status == "queued" and reply.run_id:
        state.run_created(reply.run_id)
    return code, reply.model_dump(exclude_none=True)


@router.post(
    PATH, response_model=HookAccepted, responses={202: {"model": HookAccepted}, 401: {}, 404: {}, 413: {}}
)
async def receive_hook(forge: str, project_id: str, request: Request) -> JSONResponse:
    """Receive one forge delivery; authenticated by the project's webhook secret, not by a token."""
    code, body = await deliver(request.app.state, forge, project_id, request.headers, request.stream())
    return JSONResponse(body, status_code=code)


def webhook_route() -> BaseRoute | None:
    """The webhook route (request metrics label the fast path's requests with its path)."""
    return next((route for route in router.routes if getattr(route, "path", None) == PATH), None)


class HookFastPath:
    """Pure ASGI middleware answering ``POST /hooks/<forge>/<project>`` through ``deliver``; every other
    request goes on to the app. ``state`` is the app's state; ``route`` is put into the scope as routing
    would (request metrics read it)."""

    def __init__(self, app: ASGIApp, *, state: State, route: BaseRoute | None) -> None:
        self.app = app
        self.state = state
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        try:
            code, body = await deliver(
                self.state, match["forge"], match["project_id"], Headers(scope=scope), chunks()
            )
        except ClientDisconnect:
            return  # nobody to answer; nothing was stored unless the body was whole
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": data})
