"""Forges layer: GitHub webhooks (``X-Hub-Signature-256``) and commit statuses (``/repos/{o}/{r}/statuses``).

Events: ``push`` to a branch or tag, ``pull_request`` (opened, synchronize, reopened; closed becomes
``pull_request_closed`` as in Woodpecker), ``ping``. Deletions, other actions and other events are ignored
with a reason. A pull request whose head repository differs from its base repository (or cannot be told) is
from a fork.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from shera.forges.base import BadPayload, Hook, StatusTarget
from shera.forges.payload import (
    Json,
    RepoFields,
    changed_files,
    decode,
    is_zero,
    number,
    obj,
    require,
    strip_prefix,
    text,
)
from shera.forges.signing import delivery_id, header, hmac_sha256_hex, same
from shera.forges.status import api_base, checked_sha, forge_state, owner_repo_path, post_status, short
from shera.model.event import Event, EventKind

SIGNATURE = "X-Hub-Signature-256"
EVENT = "X-GitHub-Event"
DELIVERY = "X-GitHub-Delivery"
MAX_LISTED_COMMITS = 2048
"""GitHub lists at most this many commits in a push payload; a full list may be truncated."""

PR_ACTIONS = {
    "opened": EventKind.PULL_REQUEST,
    "synchronize": EventKind.PULL_REQUEST,
    "reopened": EventKind.PULL_REQUEST,
    "closed": EventKind.PULL_REQUEST_CLOSED,
}
STATES = {
    "queued": "pending",
    "pending": "pending",
    "pending_approval": "pending",
    "running": "pending",
    "success": "success",
    "skipped": "success",
    "failure": "failure",
    "killed": "error",
}


class GitHub:
    """GitHub and GitHub Enterprise Server (the same payloads and API)."""

    name = "github"

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        if not secret:
            return False
        return same("sha256=" + hmac_sha256_hex(secret, body), header(headers, SIGNATURE))

    def sign(self, body: bytes, secret: str, *, event: str, delivery: str) -> dict[str, str]:
        return {
            SIGNATURE: "sha256=" + hmac_sha256_hex(secret, body),
            EVENT: event,
            DELIVERY: delivery,
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/shera-replay",
        }

    def guess_event(self, body: bytes) -> str:
        data = decode(body)
        if "zen" in data and "hook_id" in data:
            return "ping"
        if isinstance(data.get("pull_request"), Mapping):
            return "pull_request"
        for key in ("deployment", "release"):
            if isinstance(data.get(key), Mapping):
                return key
        if "ref_type" in data:
            return "create" if "master_branch" in data else "delete"
        if "ref" in data and "after" in data:
            return "push"
        raise BadPayload("cannot tell which GitHub event this payload is; pass --event")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Hook:
        delivery = delivery_id(header(headers, DELIVERY), body)
        event = (header(headers, EVENT) or "").strip()
        if not event:
            raise BadPayload(f"missing {EVENT} header")
        data = decode(body)
        if event == "ping":
            return Hook("ping", delivery)
        if event == "push":
            return _push(data, delivery)
        if event == "pull_request":
            return _pull_request(data, delivery)
        return Hook("ignored", delivery, reason=f"unsupported event {event!r}")

    def report_status(self, target: StatusTarget, state: str, description: str, url: str) -> None:
        sha = checked_sha(target)
        endpoint = f"{api_base(target)}/repos/{owner_repo_path(target)}/statuses/{sha}"
        headers = {
            "Authorization": f"Bearer {target.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        payload = {
            "state": forge_state(STATES, state, "GitHub"),
            "target_url": url,
            "description": short(description),
            "context": target.context,
        }
        post_status(endpoint, headers=headers, payload=payload, transport=self._transport)


def _repo(data: Json) -> RepoFields:
    repository = obj(data, "repository")
    return RepoFields(
        repo=require(data, "repository", "full_name"),
        repo_url=text(repository, "clone_url"),
        default_branch=text(repository, "default_branch") or text(repository, "master_branch") or "main",
    )


def _push(data: Json, delivery: str) -> Hook:
    ref = require(data, "ref")
    after = text(data, "after")
    tag = strip_prefix(ref, "refs/tags/")
    if data.get("deleted") is True or is_zero(after):
        return Hook("ignored", delivery, reason=f"{'tag' if tag else 'branch'} deleted: {ref}")
    branch = strip_prefix(ref, "refs/heads/")
    if branch is None and tag is None:
        return Hook("ignored", delivery, reason=f"push to unsupported ref {ref!r}")
    head = obj(data, "head_commit")
    commit = text(head, "id") or require(data, "after")
    author = text(data, "sender", "login") or text(head, "author", "username") or text(data, "pusher", "name")
    repo = _repo(data)
    if tag is not None:
        base = strip_prefix(text(data, "base_ref"), "refs/heads/")
        kind, branch, files = EventKind.TAG, base or repo["default_branch"], None
    else:
        commits = data.get("commits")
        complete = not isinstance(commits, list) or len(commits) < MAX_LISTED_COMMITS
        kind, files = EventKind.PUSH, changed_files(commits, complete=complete)
    event = Event(
        kind=kind,
        branch=branch or "",
        tag=tag,
        ref=ref,
        commit=commit,
        message=text(head, "message"),
        author=author,
        changed_files=files,
        **repo,
    )
    return Hook("event", delivery, event)


def _pull_request(data: Json, delivery: str) -> Hook:
    action = text(data, "action")
    kind = PR_ACTIONS.get(action)
    if kind is None:
        return Hook("ignored", delivery, reason=f"pull request action {action!r} does not start runs")
    pr = obj(data, "pull_request")
    pr_number = number(pr, "number") or number(data, "number")
    if pr_number is None:
        raise BadPayload("webhook payload has no 'pull_request.number'")
    head_repo, base_repo = text(pr, "head", "repo", "full_name"), text(pr, "base", "repo", "full_name")
    event = Event(
        kind=kind,
        branch=require(pr, "base", "ref"),
        ref=f"refs/pull/{pr_number}/head",
        commit=require(pr, "head", "sha"),
        message=text(pr, "title"),
        author=text(pr, "user", "login") or text(data, "sender", "login"),
        source_branch=text(pr, "head", "ref") or None,
        pull_request=pr_number,
        from_fork=not head_repo or not base_repo or head_repo != base_repo,
        **_repo(data),
    )
    return Hook("event", delivery, event)
