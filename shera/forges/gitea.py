"""Forges layer: Gitea and Forgejo webhooks (``X-Gitea-Signature``) and commit statuses; Gogs builds on it.

Signature: lowercase hex HMAC-SHA256 of the raw body, no prefix, in the first present of the forge's
signature headers (Gitea: ``X-Gitea-Signature``, then Forgejo's ``X-Forgejo-Signature``); a bad first one is
not rescued by another. The legacy ``secret`` field some old payloads carry in the body is never trusted.

Events (``X-Gitea-Event``, or ``X-Forgejo-Event``): ``push`` to a branch; tags come from ``create`` with
``ref_type: tag`` (which carries the commit sha) and tag pushes are ignored so one tag makes one run, as in
Woodpecker; ``pull_request`` opened, reopened, synchronized (closed becomes ``pull_request_closed``).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from shera.forges.base import BadPayload, Hook, StatusTarget
from shera.forges.github import STATES as GITHUB_STATES
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
from shera.forges.signing import delivery_id, header, hmac_sha256_hex, same
from shera.forges.status import api_base, checked_sha, forge_state, owner_repo_path, post_status, short
from shera.model.event import Event, EventKind

PR_ACTIONS = {
    "opened": EventKind.PULL_REQUEST,
    "reopened": EventKind.PULL_REQUEST,
    "synchronized": EventKind.PULL_REQUEST,
    "closed": EventKind.PULL_REQUEST_CLOSED,
}
STATES = GITHUB_STATES
"""Gitea's commit status API takes GitHub's states (plus ``warning``, unused)."""


class GiteaFamily:
    """The payloads Gitea, Forgejo and Gogs share; subclasses name their headers and differences."""

    name = "gitea"
    signature_headers: tuple[str, ...] = ("X-Gitea-Signature", "X-Forgejo-Signature")
    event_headers: tuple[str, ...] = ("X-Gitea-Event", "X-Forgejo-Event")
    delivery_headers: tuple[str, ...] = ("X-Gitea-Delivery", "X-Forgejo-Delivery")
    tags_from_create = True
    """True: a tag run starts from ``create`` (Gitea sends the sha there); False: from the tag's ``push``."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        if not secret:
            return False
        return same(hmac_sha256_hex(secret, body), header(headers, *self.signature_headers))

    def sign(self, body: bytes, secret: str, *, event: str, delivery: str) -> dict[str, str]:
        return {
            self.signature_headers[0]: hmac_sha256_hex(secret, body),
            self.event_headers[0]: event,
            self.delivery_headers[0]: delivery,
            "Content-Type": "application/json",
        }

    def guess_event(self, body: bytes) -> str:
        data = decode(body)
        if isinstance(data.get("pull_request"), Mapping):
            return "pull_request"
        if "ref_type" in data:
            return "delete" if "pusher_type" in data else "create"
        if "ref" in data and "after" in data:
            return "push"
        raise BadPayload(f"cannot tell which {self.name} event this payload is; pass --event")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Hook:
        delivery = delivery_id(header(headers, *self.delivery_headers), body)
        event = (header(headers, *self.event_headers) or "").strip()
        if not event:
            raise BadPayload(f"missing {self.event_headers[0]} header")
        data = decode(body)
        if event == "push":
            return self._push(data, delivery)
        if event == "create":
            return self._create(data, delivery)
        if event == "pull_request":
            return self._pull_request(data, delivery)
        if event == "delete":
            return Hook(
                "ignored", delivery, reason=f"{text(data, 'ref_type') or 'ref'} deleted: {text(data, 'ref')}"
            )
        return Hook("ignored", delivery, reason=f"unsupported event {event!r}")

    def report_status(self, target: StatusTarget, state: str, description: str, url: str) -> None:
        sha = checked_sha(target)
        endpoint = f"{api_base(target)}/repos/{owner_repo_path(target)}/statuses/{sha}"
        payload = {
            "state": forge_state(STATES, state, "Gitea"),
            "target_url": url,
            "description": short(description),
            "context": target.context,
        }
        headers = {"Authorization": f"token {target.token}", "Accept": "application/json"}
        post_status(endpoint, headers=headers, payload=payload, transport=self._transport)

    def _push(self, data: Json, delivery: str) -> Hook:
        ref = require(data, "ref")
        after = text(data, "after")
        tag = strip_prefix(ref, "refs/tags/")
        if is_zero(after):
            return Hook("ignored", delivery, reason=f"{'tag' if tag else 'branch'} deleted: {ref}")
        if tag is not None and self.tags_from_create:
            return Hook("ignored", delivery, reason="tag pushes start their run from the 'create' event")
        branch = strip_prefix(ref, "refs/heads/")
        if branch is None and tag is None:
            return Hook("ignored", delivery, reason=f"push to unsupported ref {ref!r}")
        commit = require(data, "after")
        commits = data.get("commits")
        head = obj(data, "head_commit") or commit_by_id(commits, commit)
        if not head and isinstance(commits, list) and commits and isinstance(commits[0], Mapping):
            head = commits[0]
        total = number(data, "total_commits")
        listed = len(commits) if isinstance(commits, list) else 0
        repo = _repo(data)
        event = Event(
            kind=EventKind.TAG if tag is not None else EventKind.PUSH,
            branch=branch or repo["default_branch"],
            tag=tag,
            ref=ref,
            commit=commit,
            message=text(head, "message"),
            author=_login(data, "pusher") or _login(data, "sender"),
            changed_files=None if tag else changed_files(commits, complete=total is None or total <= listed),
            **repo,
        )
        return Hook("event", delivery, event)

    def _create(self, data: Json, delivery: str) -> Hook:
        ref_type, name = text(data, "ref_type"), require(data, "ref")
        if ref_type != "tag":
            return Hook(
                "ignored", delivery, reason=f"{ref_type or 'ref'} created: {name} (its push starts runs)"
            )
        if not self.tags_from_create:
            return Hook("ignored", delivery, reason="tag runs start from the tag's 'push' event")
        sha = text(data, "sha")
        if not sha or is_zero(sha):
            return Hook("ignored", delivery, reason=f"tag {name} created without a commit sha")
        repo = _repo(data)
        event = Event(
            kind=EventKind.TAG,
            branch=repo["default_branch"],
            tag=name,
            ref=f"refs/tags/{name}",
            commit=sha,
            message=f"created tag {name}",
            author=_login(data, "sender"),
            **repo,
        )
        return Hook("event", delivery, event)

    def _pull_request(self, data: Json, delivery: str) -> Hook:
        action = text(data, "action")
        kind = PR_ACTIONS.get(action)
        if kind is None:
            return Hook("ignored", delivery, reason=f"pull request action {action!r} does not start runs")
        pr = obj(data, "pull_request")
        pr_number = number(data, "number") or number(pr, "number")
        if pr_number is None:
            raise BadPayload("webhook payload has no 'number'")
        event = Event(
            kind=kind,
            branch=require(pr, "base", "ref"),
            ref=f"refs/pull/{pr_number}/head",
            commit=require(pr, "head", "sha"),
            message=text(pr, "title"),
            author=_login(pr, "user") or _login(data, "sender"),
            source_branch=text(pr, "head", "ref") or None,
            pull_request=pr_number,
            from_fork=_from_fork(pr),
            **_repo(data),
        )
        return Hook("event", delivery, event)


class Gitea(GiteaFamily):
    """Gitea (1.14 and later sign every delivery) and Forgejo."""


def _repo(data: Json) -> RepoFields:
    repository = obj(data, "repository")
    return RepoFields(
        repo=require(data, "repository", "full_name"),
        repo_url=text(repository, "clone_url"),
        default_branch=text(repository, "default_branch") or text(data, "default_branch") or "main",
    )


def _login(data: Json, key: str) -> str:
    return text(data, key, "login") or text(data, key, "username")


def _from_fork(pr: Json) -> bool:
    """Head and base repositories differ; a payload that does not say is treated as a fork (untrusted)."""
    head_id, base_id = number(pr, "head", "repo_id"), number(pr, "base", "repo_id")
    if head_id and base_id:
        return head_id != base_id
    head_name, base_name = text(pr, "head", "repo", "full_name"), text(pr, "base", "repo", "full_name")
    if head_name and base_name:
        return head_name != base_name
    return True
