"""API layer: a run's logs — plain text (each line ``[step] ``-prefixed) or, with ``follow=1``, live SSE.

SSE polls the database (``store.logs.read_log`` after a cursor) every ``app.state.log_poll_seconds``: simple,
and it works whatever process writes the logs. One event per chunk, with ``id: <step id>:<seq>`` so a client
reconnecting with ``Last-Event-ID`` resumes where it stopped; ``event: end`` (data: the run's status) once the
run has finished and every chunk was sent; a comment line every 15 s keeps idle connections open.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from shera.api.deps import DbDep, ViewerDep
from shera.api.logtext import SSE_RETRY_MS, LogText, parse_cursor, sse_event
from shera.api.routes.runs import owned_run
from shera.store import logs, runs
from shera.store.db import Database

router = APIRouter(prefix="/api/v1", tags=["runs"])

FINISHED = frozenset({"success", "failure", "killed", "skipped"})
KEEPALIVE_SECONDS = 15.0
BATCH = 200


def _text(db: Database, run_id: str) -> Iterator[str]:
    text = LogText()
    cursor: tuple[str, int] | None = None
    while True:
        pieces = logs.read_log(db, run_id, after=cursor, limit=BATCH)
        if not pieces:
            break
        for piece in pieces:
            yield text.feed(piece.step_id, piece.step, piece.data)
        cursor = (pieces[-1].step_id, pieces[-1].seq)
    yield text.finish()


async def _follow(
    request: Request, db: Database, run_id: str, cursor: tuple[str, int] | None
) -> AsyncIterator[str]:
    poll: float = request.app.state.log_poll_seconds
    text = LogText()
    yield f"retry: {SSE_RETRY_MS}\n\n"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        run = await run_in_threadpool(runs.get_run, db, run_id, None)
        finished = run is None or run.status in FINISHED
        pieces = await run_in_threadpool(logs.read_log, db, run_id, after=cursor, limit=BATCH)
        for piece in pieces:
            chunk = text.feed(piece.step_id, piece.step, piece.data)
            yield sse_event(chunk, event_id=f"{piece.step_id}:{piece.seq}")
        if pieces:
            cursor = (pieces[-1].step_id, pieces[-1].seq)
            quiet_since = time.monotonic()
            continue
        if finished:
            yield sse_event(run.status if run else "gone", event="end")
            return
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield ": keepalive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(poll)


@router.get(
    "/runs/{run_id}/logs",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}, "text/event-stream": {}}}},
)
def get_logs(
    run_id: str,
    request: Request,
    db: DbDep,
    principal: ViewerDep,
    follow: Annotated[bool, Query(description="Stream live as Server-Sent Events")] = False,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The run's log so far as text, or (``follow=1``) a live SSE stream until the run finishes."""
    owned_run(db, run_id, principal.tenant_id)
    if follow:
        return StreamingResponse(
            _follow(request, db, run_id, parse_cursor(last_event_id)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return StreamingResponse(_text(db, run_id), media_type="text/plain; charset=utf-8")
