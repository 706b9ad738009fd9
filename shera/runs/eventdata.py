"""Runs layer: an ``Event`` to JSON-ready data (stored with the run) and back (when the worker plans it)."""

from __future__ import annotations

import dataclasses
from typing import Any

from shera.model.event import Event, EventKind

_NAMES = tuple(f.name for f in dataclasses.fields(Event))
_FIELDS = frozenset(_NAMES)


def event_to_data(event: Event) -> dict[str, Any]:
    """``dataclasses.asdict`` with JSON types only (the kind as its string, tuples as lists).

    Built field by field: every field is a scalar except ``changed_files`` and ``params``, which are
    copied, so the deep copy of ``asdict`` (a hot spot of the webhook path) is not needed.
    """
    data = {name: getattr(event, name) for name in _NAMES}
    data["kind"] = str(event.kind)
    if event.changed_files is not None:
        data["changed_files"] = list(event.changed_files)
    data["params"] = dict(event.params)
    return data


def event_from_data(data: dict[str, Any]) -> Event:
    """The ``Event`` stored by ``event_to_data``; unknown keys (from a newer version) are ignored."""
    values = {key: value for key, value in data.items() if key in _FIELDS}
    if "kind" in values:
        values["kind"] = EventKind(values["kind"])
    if values.get("changed_files") is not None:
        values["changed_files"] = tuple(values["changed_files"])
    if "params" in values:
        values["params"] = {str(k): str(v) for k, v in dict(values["params"]).items()}
    return Event(**values)
