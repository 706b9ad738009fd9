"""The stub forge: real HMAC on the wire, an Event as the payload, statuses recorded in memory."""

from __future__ import annotations

import pytest

from shera.forges.base import BadPayload, StatusTarget
from shera.forges.stub import StubForge, event_payload
from shera.model.event import Event, EventKind


def test_event_round_trips_through_the_signed_wire_format() -> None:
    event = Event(kind=EventKind.PULL_REQUEST, branch="main", commit="a" * 40, pull_request=4, from_fork=True,
                  changed_files=("x.py",), repo="o/r")  # fmt: skip
    body = event_payload(event)
    forge = StubForge()
    headers = forge.sign(body, "k", event="event", delivery="d-1")
    assert forge.verify(headers, body, "k")
    assert not forge.verify(headers, body + b" ", "k")
    assert not forge.verify({}, body, "k")
    assert not forge.verify(headers, body, "")
    hook = forge.parse(headers, body)
    assert (hook.kind, hook.delivery_id, hook.event) == ("event", "d-1", event)


def test_ping_ignored_and_bad_payloads() -> None:
    forge = StubForge()
    assert forge.parse({}, b'{"ping": true}').kind == "ping"
    ignored = forge.parse({}, b'{"ignored": "branch deleted"}')
    assert (ignored.kind, ignored.reason) == ("ignored", "branch deleted")
    with pytest.raises(BadPayload, match="unknown Event fields: colour"):
        forge.parse({}, b'{"colour": "red"}')
    with pytest.raises(BadPayload):
        forge.parse({}, b'{"kind": "nonsense"}')


def test_statuses_are_recorded() -> None:
    forge = StubForge()
    target = StatusTarget(api_url="http://forge", token="t", repo="o/r", sha="b" * 40)
    forge.report_status(target, "success", "done", "https://shera.example/runs/1")
    assert forge.statuses == [(target, "success", "done", "https://shera.example/runs/1")]
