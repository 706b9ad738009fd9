"""Forges layer: GitLab webhooks (``X-Gitlab-Token`` or the HMAC signing token) and commit statuses.

Authentication: when the request carries ``webhook-signature`` (GitLab's signing token, Standard Webhooks
format: ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``) only that signature is
checked, with the timestamp no further than ``tolerance`` seconds from now; otherwise ``X-Gitlab-Token`` must
equal the secret. A ``whsec_``-prefixed secret is a signing token whose key is the base64 after the prefix.

Events: ``Push Hook``, ``Tag Push Hook``, ``Merge Request Hook`` (open, reopen, update with new commits;
close and merge become ``pull_request_closed``). The delivery id is ``Idempotency-Key`` (stable across
GitLab's retries), else ``X-Gitlab-Event-UUID``, else ``X-Gitlab-Webhook-UUID``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from urllib.parse import quote

import httpx

from shera.forges.base import BadPayload, Hook, StatusRejected, StatusTarget
from shera.forges.payload import (
    Json,
    RepoFields,
    changed_files,
    commit_by_id,
    decode,
    is_zero,
    number,
    obj,
    require,
    strip_prefix,
    text,
)
from shera.forges.signing import delivery_id, header, same
from shera.forges.status import api_base, checked_sha, forge_state, post_status, short
from shera.model.event import Event, EventKind

AUTH_HEADER = "X-Gitlab-Token"
EVENT = "X-Gitlab-Event"
DELIVERY = ("Idempotency-Key", "X-Gitlab-Event-UUID", "X-Gitlab-Webhook-UUID")
SIGNATURE, SIGNATURE_ID, SIGNATURE_TIME = "webhook-signature", "webhook-id", "webhook-timestamp"
SIGNING_PREFIX = "whsec_"

MR_OPEN = {"open", "reopen"}
MR_CLOSED = {"close", "merge"}
STATES = {
    "queued": "pending",
    "pending": "pending",
    "pending_approval": "pending",
    "running": "running",
    "success": "success",
    "skipped": "skipped",
    "failure": "failed",
    "killed": "canceled",
}


class GitLab:
    """GitLab.com and self-managed GitLab (API v4)."""

    name = "gitlab"

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        tolerance: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._tolerance = tolerance
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        if not secret:
            return False
        signatures = header(headers, SIGNATURE)
        if signatures is not None:
            return self._signature_ok(headers, body, secret, signatures)
        return same(secret, header(headers, AUTH_HEADER))

    def _signature_ok(self, headers: Mapping[str, str], body: bytes, secret: str, signatures: str) -> bool:
        webhook_id, stamp = header(headers, SIGNATURE_ID), header(headers, SIGNATURE_TIME)
        if not webhook_id or not stamp or not stamp.strip().isdigit():
            return False
        if abs(self._clock() - int(stamp)) > self._tolerance:
            return False
        key = _signing_key(secret)
        if key is None:
            return False
        expected = "v1," + _signature(key, webhook_id.strip(), stamp.strip(), body)
        matches = [same(expected, candidate) for candidate in signatures.split()]
        return any(matches)

    def sign(self, body: bytes, secret: str, *, event: str, delivery: str) -> dict[str, str]:
        headers = {
            EVENT: event,
            "X-Gitlab-Event-UUID": delivery,
            "Idempotency-Key": delivery,
            "Content-Type": "application/json",
            "User-Agent": "GitLab/shera-replay",
        }
        key = _signing_key(secret) if secret.startswith(SIGNING_PREFIX) else None
        if key is None:
            headers[AUTH_HEADER] = secret
            return headers
        stamp = str(int(self._clock()))
        headers |= {
            SIGNATURE_ID: delivery,
            SIGNATURE_TIME: stamp,
            SIGNATURE: "v1," + _signature(key, delivery, stamp, body),
        }
        return headers

    def guess_event(self, body: bytes) -> str:
        kind = text(decode(body), "object_kind")
        if not kind:
            raise BadPayload("GitLab payload has no 'object_kind'; pass --event")
        return " ".join(word.capitalize() for word in kind.split("_")) + " Hook"

    def parse(self, headers: Mapping[str, str], body: bytes) -> Hook:
        delivery = delivery_id(header(headers, *DELIVERY), body)
        event = (header(headers, EVENT) or "").strip()
        if not event:
            raise BadPayload(f"missing {EVENT} header")
        if event not in ("Push Hook", "Tag Push Hook", "Merge Request Hook"):
            return Hook("ignored", delivery, reason=f"unsupported event {event!r}")
        data = decode(body)
        if event == "Merge Request Hook":
            return _merge_request(data, delivery)
        return _push(data, delivery, tag=event == "Tag Push Hook")

    def report_status(self, target: StatusTarget, state: str, description: str, url: str) -> None:
        sha = checked_sha(target)
        path = target.repo.strip().strip("/")
        if not path or any(part in ("", ".", "..") for part in path.split("/")):
            raise StatusRejected(f"GitLab project must be a path like 'group/name', got {target.repo!r}")
        endpoint = f"{api_base(target)}/projects/{quote(path, safe='')}/statuses/{sha}"
        payload = {
            "state": forge_state(STATES, state, "GitLab"),
            "target_url": url,
            "description": short(description),
            "name": target.context,
        }
        post_status(
            endpoint, headers={"PRIVATE-TOKEN": target.token}, payload=payload, transport=self._transport
        )


def _signing_key(secret: str) -> bytes | None:
    if not secret.startswith(SIGNING_PREFIX):
        return secret.encode()
    try:
        return base64.b64decode(secret[len(SIGNING_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None


def _signature(key: bytes, webhook_id: str, stamp: str, body: bytes) -> str:
    signed = f"{webhook_id}.{stamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _repo(data: Json, project: Json) -> RepoFields:
    return RepoFields(
        repo=text(project, "path_with_namespace") or require(data, "project", "path_with_namespace"),
        repo_url=text(project, "git_http_url")
        or text(project, "http_url")
        or text(data, "repository", "git_http_url"),
        default_branch=text(project, "default_branch") or "main",
    )


def _push(data: Json, delivery: str, *, tag: bool) -> Hook:
    ref = require(data, "ref")
    after = text(data, "after")
    if is_zero(after):
        return Hook("ignored", delivery, reason=f"{'tag' if tag else 'branch'} deleted: {ref}")
    name = strip_prefix(ref, "refs/tags/" if tag else "refs/heads/")
    if name is None:
        return Hook("ignored", delivery, reason=f"push to unsupported ref {ref!r}")
    commit = text(data, "checkout_sha") or require(data, "after")
    head = commit_by_id(data.get("commits"), after) or commit_by_id(data.get("commits"), commit)
    repo = _repo(data, obj(data, "project"))
    commits = data.get("commits")
    listed = len(commits) if isinstance(commits, list) else 0
    total = number(data, "total_commits_count")
    event = Event(
        kind=EventKind.TAG if tag else EventKind.PUSH,
        branch=repo["default_branch"] if tag else name,
        tag=name if tag else None,
        ref=ref,
        commit=commit,
        message=text(head, "message") or text(data, "message"),
        author=text(data, "user_username") or text(data, "user_name"),
        changed_files=None if tag else changed_files(commits, complete=total is None or total <= listed),
        **repo,
    )
    return Hook("event", delivery, event)


def _merge_request(data: Json, delivery: str) -> Hook:
    attrs = obj(data, "object_attributes")
    action = text(attrs, "action")
    if action in MR_OPEN or (action == "update" and text(attrs, "oldrev")):
        kind = EventKind.PULL_REQUEST
    elif action in MR_CLOSED:
        kind = EventKind.PULL_REQUEST_CLOSED
    elif action == "update":
        return Hook("ignored", delivery, reason="merge request updated without new commits")
    else:
        return Hook("ignored", delivery, reason=f"merge request action {action!r} does not start runs")
    iid = number(attrs, "iid")
    if iid is None:
        raise BadPayload("webhook payload has no 'object_attributes.iid'")
    source, target = number(attrs, "source_project_id"), number(attrs, "target_project_id")
    project = obj(data, "project") or obj(attrs, "target")
    event = Event(
        kind=kind,
        branch=require(attrs, "target_branch"),
        ref=f"refs/merge-requests/{iid}/head",
        commit=require(attrs, "last_commit", "id"),
        message=text(attrs, "title"),
        author=text(data, "user", "username"),
        source_branch=text(attrs, "source_branch") or None,
        pull_request=iid,
        from_fork=source is None or target is None or source != target,
        **_repo(data, project),
    )
    return Hook("event", delivery, event)
