"""Forges layer: a stub forge for tests; real signatures, a payload that is simply an ``Event`` as JSON.

Wire format: ``X-Stub-Signature`` is the hex HMAC-SHA256 of the raw body, ``X-Stub-Delivery`` the delivery id.
The body is a JSON object of ``Event`` fields (``{"kind": "push", "branch": "main", "commit": "…"}``);
``{"ping": true}`` is a ping and ``{"ignored": "why"}`` an ignored delivery. ``report_status`` sends nothing:
it appends ``(target, state, description, url)`` to ``statuses`` (thread-safe) so tests can assert on it.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from typing import Any

from shera.forges.base import BadPayload, Hook, StatusTarget
from shera.forges.payload import decode
from shera.forges.signing import delivery_id, header, hmac_sha256_hex, same
from shera.forges.status import checked_sha
from shera.model.event import Event, EventKind

SIGNATURE = "X-Stub-Signature"
EVENT = "X-Stub-Event"
DELIVERY = "X-Stub-Delivery"
_FIELDS = {field.name for field in dataclasses.fields(Event)}


def event_payload(event: Event) -> bytes:
    """The stub wire form of ``event`` (what ``parse`` turns back into an equal ``Event``)."""
    data = dataclasses.asdict(event)
    data["changed_files"] = None if event.changed_files is None else list(event.changed_files)
    return json.dumps(data).encode()


class StubForge:
    """Behaves like a real forge on the wire; records statuses instead of calling an API."""

    name = "stub"

    def __init__(self) -> None:
        self.statuses: list[tuple[StatusTarget, str, str, str]] = []
        self._lock = threading.Lock()

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        if not secret:
            return False
        return same(hmac_sha256_hex(secret, body), header(headers, SIGNATURE))

    def sign(self, body: bytes, secret: str, *, event: str, delivery: str) -> dict[str, str]:
        return {
            SIGNATURE: hmac_sha256_hex(secret, body),
            EVENT: event,
            DELIVERY: delivery,
            "Content-Type": "application/json",
        }

    def guess_event(self, body: bytes) -> str:
        return "ping" if decode(body).get("ping") is True else "event"

    def parse(self, headers: Mapping[str, str], body: bytes) -> Hook:
        delivery = delivery_id(header(headers, DELIVERY), body)
        data = decode(body)
        if data.get("ping") is True:
            return Hook("ping", delivery)
        if isinstance(data.get("ignored"), str):
            return Hook("ignored", delivery, reason=data["ignored"])
        return Hook("event", delivery, _event(data))

    def report_status(self, target: StatusTarget, state: str, description: str, url: str) -> None:
        checked_sha(target)
        with self._lock:
            self.statuses.append((target, state, description, url))


def _event(data: Mapping[str, Any]) -> Event:
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadPayload(f"stub payload has unknown Event fields: {', '.join(unknown)}")
    fields = dict(data)
    try:
        if "kind" in fields:
            fields["kind"] = EventKind(fields["kind"])
        if fields.get("changed_files") is not None:
            fields["changed_files"] = tuple(fields["changed_files"])
        return Event(**fields)
    except (TypeError, ValueError) as exc:
        raise BadPayload(f"stub payload is not an Event: {exc}") from exc
