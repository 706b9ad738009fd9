"""Forges layer: typed access to decoded webhook JSON (missing or mistyped fields read as empty)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from shera.forges.base import BadPayload

ZERO_SHA = "0" * 40
Json = Mapping[str, Any]


class RepoFields(TypedDict):
    """The repository part of an ``Event`` (passed as ``**fields``)."""

    repo: str
    repo_url: str
    default_branch: str


def decode(body: bytes) -> Json:
    """The JSON object in ``body``; ``BadPayload`` when it is not UTF-8 JSON or not an object."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadPayload(f"webhook body is a JSON {type(data).__name__}, expected an object")
    return data


def obj(data: Json | None, *path: str) -> Json:
    """The object at ``path`` (``{}`` when absent, null or not an object)."""
    current: Any = data or {}
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current if isinstance(current, Mapping) else {}


def text(data: Json | None, *path: str) -> str:
    """The string at ``path`` (numbers are rendered; ``""`` when absent or null)."""
    if not path:
        return ""
    value = obj(data, *path[:-1]).get(path[-1])
    if isinstance(value, bool) or value is None:
        return ""
    return str(value) if isinstance(value, str | int) else ""


def number(data: Json | None, *path: str) -> int | None:
    """The integer at ``path``, or ``None``."""
    value = obj(data, *path[:-1]).get(path[-1]) if path else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def require(data: Json, *path: str) -> str:
    """The non-empty string at ``path``; ``BadPayload`` naming the field otherwise."""
    value = text(data, *path)
    if not value:
        raise BadPayload(f"webhook payload has no {'.'.join(path)!r}")
    return value


def is_zero(sha: str) -> bool:
    """True for the all-zero sha forges send for a created-from-nothing or deleted ref."""
    return bool(sha) and set(sha) == {"0"}


def strip_prefix(ref: str, prefix: str) -> str | None:
    """``ref`` without ``prefix``, or ``None`` when it does not start with it."""
    return ref[len(prefix) :] if ref.startswith(prefix) and len(ref) > len(prefix) else None


def changed_files(commits: Any, *, complete: bool = True) -> tuple[str, ...] | None:
    """Sorted union of added/modified/removed over ``commits``.

    ``None`` (unknown: path filters then match) when the list is empty, not a list, incomplete (the forge
    truncated it, ``complete=False``) or a commit lacks one of the three lists.
    """
    if not complete or not isinstance(commits, list) or not commits:
        return None
    files: set[str] = set()
    for commit in commits:
        if not isinstance(commit, Mapping):
            return None
        for key in ("added", "modified", "removed"):
            names = commit.get(key)
            if not isinstance(names, list):
                return None
            files.update(name for name in names if isinstance(name, str))
    return tuple(sorted(files))


def commit_by_id(commits: Any, sha: str) -> Json:
    """The commit of ``commits`` whose ``id`` is ``sha`` (``{}`` when absent)."""
    if isinstance(commits, Iterable):
        for commit in commits:
            if isinstance(commit, Mapping) and commit.get("id") == sha:
                return commit
    return {}
