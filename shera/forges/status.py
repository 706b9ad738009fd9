"""Forges layer: the one HTTP client that posts commit statuses (httpx), with its errors translated.

Shared by the forge adapters: they build the URL, headers and JSON body (pure), this module sends them.
``httpx`` exceptions never leave this module: connection failures, timeouts, 5xx and 429 become
``ForgeUnavailable`` (temporary); other non-2xx answers and unusable URLs become ``StatusRejected``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

import httpx

from shera.forges.base import ForgeUnavailable, StatusRejected, StatusTarget

TIMEOUT_SECONDS = 10.0
DESCRIPTION_LIMIT = 140
"""GitHub refuses longer descriptions; the others accept it, so one limit for all."""

_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_PART = re.compile(r"[A-Za-z0-9_.-]+")


def post_status(
    url: str,
    *,
    headers: Mapping[str, str],
    payload: Mapping[str, object],
    transport: httpx.BaseTransport | None = None,
) -> None:
    """POST ``payload`` as JSON to ``url``; returns on 2xx, raises a She-Ra error otherwise."""
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport) as client:
            response = client.post(url, headers=dict(headers), json=dict(payload))
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise StatusRejected(f"commit status URL {url!r} is not usable: {exc}") from exc
    except httpx.HTTPError as exc:
        raise ForgeUnavailable(f"forge API at {url} did not answer: {exc}") from exc
    if response.is_success:
        return
    detail = response.text[:300].strip()
    message = f"forge API answered {response.status_code} to POST {url}: {detail}"
    if response.status_code >= 500 or response.status_code == 429:
        raise ForgeUnavailable(message)
    raise StatusRejected(message)


def checked_sha(target: StatusTarget) -> str:
    """The target's sha, lowercase; ``StatusRejected`` unless it is a full hex object id."""
    sha = target.sha.strip().lower()
    if not _SHA.fullmatch(sha):
        raise StatusRejected(f"commit status needs a full commit sha, got {target.sha!r}")
    return sha


def owner_repo_path(target: StatusTarget) -> str:
    """``owner/name`` validated and escaped for a URL path (GitHub, Gitea); ``StatusRejected`` otherwise."""
    parts = target.repo.strip().split("/")
    if len(parts) != 2 or not all(_PART.fullmatch(part) and part not in (".", "..") for part in parts):
        raise StatusRejected(f"repository must be 'owner/name', got {target.repo!r}")
    return "/".join(quote(part, safe="") for part in parts)


def api_base(target: StatusTarget) -> str:
    """The API base URL without a trailing slash; ``StatusRejected`` unless it is http(s)."""
    base = target.api_url.strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise StatusRejected(f"forge API URL must be http(s), got {target.api_url!r}")
    return base


def short(description: str) -> str:
    """``description`` cut to the length every forge accepts."""
    return (
        description if len(description) <= DESCRIPTION_LIMIT else description[: DESCRIPTION_LIMIT - 1] + "…"
    )


def forge_state(mapping: Mapping[str, str], state: str, forge: str) -> str:
    """The forge's name for She-Ra run state ``state``; ``StatusRejected`` for an unknown state."""
    try:
        return mapping[state]
    except KeyError:
        known = ", ".join(sorted(mapping))
        raise StatusRejected(f"no {forge} commit state for run state {state!r} (known: {known})") from None
