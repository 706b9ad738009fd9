"""GitLab: secret token and HMAC signing token, merge request rules, delivery ids, commit statuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from shera.forges.base import StatusTarget
from shera.forges.gitlab import GitLab
from shera.model.event import EventKind
from tests.forges.recorder import recording_server
from tests.support.corpus import need_corpus

SHA = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
KEY = b"0123456789abcdef0123456789abcdef"
SIGNING_SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_750_000_000


def payload(name: str) -> bytes:
    return (need_corpus() / "webhooks" / "gitlab" / name).read_bytes()


def standard_signature(body: bytes, webhook_id: str = "msg-1", stamp: int = NOW) -> dict[str, str]:
    """Computed independently of the adapter, from the Standard Webhooks description GitLab follows."""
    digest = hmac.new(KEY, f"{webhook_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "X-Gitlab-Event": "Push Hook",
    }


def gitlab() -> GitLab:
    return GitLab(clock=lambda: NOW)


def test_secret_token_verifies_and_wrong_or_missing_token_does_not() -> None:
    body = payload("push__1.json")
    assert gitlab().verify({"X-Gitlab-Token": "tok3n"}, body, "tok3n")
    assert not gitlab().verify({"X-Gitlab-Token": "tok3n-"}, body, "tok3n")
    assert not gitlab().verify({}, body, "tok3n")
    assert not gitlab().verify({"X-Gitlab-Token": ""}, body, "")


def test_signing_token_verifies() -> None:
    body = payload("push__1.json")
    assert gitlab().verify(standard_signature(body), body, SIGNING_SECRET)


def test_signing_token_accepts_any_of_several_signatures() -> None:
    body = payload("push__1.json")
    headers = standard_signature(body)
    headers["webhook-signature"] = "v1,bm90LWl0 " + headers["webhook-signature"]
    assert gitlab().verify(headers, body, SIGNING_SECRET)


@pytest.mark.parametrize(
    "case", ["forged", "reserialized", "wrong-secret", "stale", "missing-id", "token-fallback"]
)
def test_bad_signed_requests_are_rejected(case: str) -> None:
    body = payload("push__1.json")
    headers, secret = standard_signature(body), SIGNING_SECRET
    if case == "forged":
        headers = standard_signature(body.replace(b"jsmith", b"mallory"))
    elif case == "reserialized":
        body = json.dumps(json.loads(body)).encode()
    elif case == "wrong-secret":
        secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
    elif case == "stale":
        headers = standard_signature(body, stamp=NOW - 3600)  # a replay an hour later
    elif case == "missing-id":
        del headers["webhook-id"]
    elif case == "token-fallback":
        # a bad signature is not rescued by a correct plain token
        headers = dict(standard_signature(b"other"), **{"X-Gitlab-Token": secret})
    assert not gitlab().verify(headers, body, secret)


def test_sign_round_trips_through_verify_for_both_secret_kinds() -> None:
    body = payload("tag_push__1.json")
    for secret in ("plain-token", SIGNING_SECRET):
        headers = gitlab().sign(body, secret, event="Tag Push Hook", delivery="d-9")
        assert gitlab().verify(headers, body, secret)
        assert gitlab().parse(headers, body).delivery_id == "d-9"
    assert "X-Gitlab-Token" not in gitlab().sign(body, SIGNING_SECRET, event="Push Hook", delivery="d")


def test_delivery_id_prefers_the_idempotency_key() -> None:
    headers = {
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Event-UUID": "event-uuid",
        "Idempotency-Key": "retry-stable",
    }
    assert gitlab().parse(headers, payload("push__2.json")).delivery_id == "retry-stable"
    del headers["Idempotency-Key"]
    assert gitlab().parse(headers, payload("push__2.json")).delivery_id == "event-uuid"


def test_push_event_fields() -> None:
    hook = gitlab().parse({"X-Gitlab-Event": "Push Hook"}, payload("push__2.json"))
    event = hook.event
    assert event is not None and event.kind is EventKind.PUSH
    assert (event.branch, event.commit) == ("main", "16862e368d8ab812e48833b741dad720d6e2cb7f")
    assert (event.message, event.author, event.changed_files) == (
        "Update main.go",
        "test",
        ("cmd/cli/main.go",),
    )
    assert (event.repo, event.repo_url, event.default_branch) == (
        "test/woodpecker",
        "http://10.40.8.5:3200/test/woodpecker.git",
        "develop",
    )


def test_merge_request_from_a_fork_and_metadata_updates() -> None:
    data = json.loads(payload("merge_request__3.json"))
    data["object_attributes"]["source_project_id"] = 999
    hook = gitlab().parse({"X-Gitlab-Event": "Merge Request Hook"}, json.dumps(data).encode())
    assert hook.event is not None and hook.event.from_fork
    assert hook.event.source_branch == "anbraten-main-patch-05373" and hook.event.pull_request == 3
    # an update that only edits the title carries no oldrev: no run
    del data["object_attributes"]["oldrev"]
    hook = gitlab().parse({"X-Gitlab-Event": "Merge Request Hook"}, json.dumps(data).encode())
    assert hook.kind == "ignored" and "without new commits" in hook.reason


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("pending", "pending"),
        ("running", "running"),
        ("success", "success"),
        ("failure", "failed"),
        ("killed", "canceled"),
    ],
)
def test_commit_status_reaches_the_api(state: str, expected: str) -> None:
    with recording_server() as server:
        target = StatusTarget(api_url=server.url + "/api/v4", token="glpat-x", repo="group/sub/app", sha=SHA)
        gitlab().report_status(target, state, "Run 3", "https://shera.example/runs/3")
    [request] = server.requests
    assert request.path == f"/api/v4/projects/group%2Fsub%2Fapp/statuses/{SHA}"
    assert request.headers["private-token"] == "glpat-x"
    assert "authorization" not in request.headers
    assert json.loads(request.body) == {
        "state": expected,
        "target_url": "https://shera.example/runs/3",
        "description": "Run 3",
        "name": "shera",
    }
