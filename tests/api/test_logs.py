"""Run logs: text with ``[step] `` prefixes, and live Server-Sent Events until the run ends."""

from __future__ import annotations

import threading
import time

from shera.api.logtext import LogText, parse_cursor, sse_event
from shera.store import logs, runs, steps
from tests.api.conftest import Api, Tenant
from tests.api.test_runs import add_run, project_record


def parse_sse(text: str) -> list[dict[str, str]]:
    """Events of an SSE stream as dicts (``data`` lines joined with newlines)."""
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        if "data" in fields:
            events.append({k: "\n".join(v) for k, v in fields.items()})
    return events


def test_log_text_prefixes_every_line_across_chunk_boundaries() -> None:
    text = LogText()
    out = [
        text.feed("s1", "build", b"hello\nwor"),
        text.feed("s1", "build", b"ld\n"),
        text.feed("s2", "test", b"caf\xc3"),  # a UTF-8 character split between chunks
        text.feed("s2", "test", b"\xa9 ok"),
        text.feed("s1", "build", b"late\n"),
    ]
    assert "".join(out) + text.finish() == "[build] hello\n[build] world\n[test] café ok\n[build] late\n"


def test_sse_event_framing_and_cursor() -> None:
    assert sse_event("a\nb\n", event_id="s:1") == "id: s:1\ndata: a\ndata: b\ndata: \n\n"
    assert sse_event("x\r\ny", event="end") == "event: end\ndata: x\ndata: y\n\n"
    assert parse_cursor("abc:12") == ("abc", 12)
    assert parse_cursor("abc") is None and parse_cursor("abc:x") is None and parse_cursor(None) is None


def test_logs_as_text(api: Api, acme: Tenant) -> None:
    run = add_run(api, project_record(api, acme), status="running")
    ids = steps.create_steps(api.db, run.id, [("w", "build", "running"), ("w", "test", "queued")])
    logs.append_chunk(api.db, ids[("w", "build")], 0, b"compiling\n")
    logs.append_chunk(api.db, ids[("w", "test")], 0, b"3 passed")

    response = api.client.get(f"/api/v1/runs/{run.id}/logs", headers=acme.auth("viewer"))

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.text == "[build] compiling\n[test] 3 passed\n"


def test_follow_streams_live_chunks_then_end(api: Api, acme: Tenant) -> None:
    # Given a running run, when chunks are written while a client follows, then it gets each one as an
    # event in order and an ``end`` event once the run has finished.
    run = add_run(api, project_record(api, acme), status="running")
    step_id = steps.create_steps(api.db, run.id, [("w", "build", "running")])[("w", "build")]

    def worker() -> None:
        for seq in range(3):
            time.sleep(0.05)
            logs.append_chunk(api.db, step_id, seq, f"line {seq}\n".encode())
        time.sleep(0.05)
        runs.transition(api.db, run.id, "success", ("running",))

    thread = threading.Thread(target=worker)
    thread.start()
    with api.client.stream(
        "GET", f"/api/v1/runs/{run.id}/logs?follow=1", headers=acme.auth("viewer")
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    thread.join()

    events = parse_sse(body)
    assert [e["data"] for e in events[:-1]] == ["[build] line 0\n", "[build] line 1\n", "[build] line 2\n"]
    assert [e["id"] for e in events[:-1]] == [f"{step_id}:0", f"{step_id}:1", f"{step_id}:2"]
    assert events[-1] == {"event": "end", "data": "success"}


def test_follow_resumes_after_last_event_id(api: Api, acme: Tenant) -> None:
    run = add_run(api, project_record(api, acme), status="running")
    step_id = steps.create_steps(api.db, run.id, [("w", "build", "running")])[("w", "build")]
    for seq in range(3):
        logs.append_chunk(api.db, step_id, seq, f"line {seq}\n".encode())
    runs.transition(api.db, run.id, "failure", ("running",))

    headers = {**acme.auth("viewer"), "Last-Event-ID": f"{step_id}:1"}
    response = api.client.get(f"/api/v1/runs/{run.id}/logs?follow=1", headers=headers)

    events = parse_sse(response.text)
    assert [e["data"] for e in events] == ["[build] line 2\n", "failure"]
