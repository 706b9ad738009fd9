"""Gitea/Forgejo: signatures, tag runs from ``create``, fork detection, commit statuses over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from shera.forges.base import StatusTarget
from shera.forges.gitea import Gitea
from shera.model.event import EventKind
from tests.forges.recorder import recording_server
from tests.support.corpus import need_corpus

SHA = "4522cbcefc20728a5b72b3a86af35e608622c514"


def payload(name: str) -> bytes:
    return (need_corpus() / "webhooks" / "gitea" / name).read_bytes()


def signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_hex_signature_without_prefix_verifies() -> None:
    body = payload("push__5.json")
    assert Gitea().verify({"X-Gitea-Signature": signature(body, "k")}, body, "k")
    assert Gitea().verify({"X-Forgejo-Signature": signature(body, "k")}, body, "k")


@pytest.mark.parametrize(
    "case", ["forged", "reserialized", "wrong-secret", "missing-header", "github-style-prefix"]
)
def test_bad_requests_are_rejected(case: str) -> None:
    body, secret = payload("push__5.json"), "k"
    headers = {"X-Gitea-Signature": signature(body, secret)}
    if case == "forged":
        headers = {"X-Gitea-Signature": signature(body + b" ", secret)}
    elif case == "reserialized":
        body = json.dumps(json.loads(body)).encode()
    elif case == "wrong-secret":
        secret = "K"
    elif case == "missing-header":
        headers = {"X-Gitea-Event": "push"}
    elif case == "github-style-prefix":
        headers = {"X-Gitea-Signature": "sha256=" + signature(body, secret)}
    assert not Gitea().verify(headers, body, secret)


def test_legacy_secret_in_the_body_is_not_trusted() -> None:
    body = payload("push__6.json")  # carries "secret": "3gEs..." in the JSON
    secret = json.loads(body)["secret"]
    assert not Gitea().verify({}, body, secret)


def test_tag_run_comes_from_create_and_the_tag_push_is_ignored() -> None:
    create = Gitea().parse({"X-Gitea-Event": "create", "X-Gitea-Delivery": "d1"}, payload("create__3.json"))
    assert create.kind == "event" and create.delivery_id == "d1"
    event = create.event
    assert event is not None and event.kind is EventKind.TAG
    assert (event.tag, event.ref, event.commit) == (
        "v1.0.0",
        "refs/tags/v1.0.0",
        "599d25c67b05717269f50ac082b34f176d085179",
    )
    data = dict(json.loads(payload("push__5.json")), ref="refs/tags/v1.0.0")
    push = Gitea().parse({"X-Gitea-Event": "push"}, json.dumps(data).encode())
    assert push.kind == "ignored" and "'create'" in push.reason


def test_push_fields_and_branch_deletion() -> None:
    hook = Gitea().parse({"X-Gitea-Event": "push"}, payload("push__5.json"))
    event = hook.event
    assert event is not None
    assert (event.branch, event.commit, event.author) == ("master", SHA, "unknwon")
    assert (event.message, event.changed_files) == ("Updated readme\n", ("README.md",))
    assert (event.repo, event.repo_url) == (
        "gogits/hello-world",
        "http://try.gitea.io/gogits/hello-world.git",
    )
    deleted = dict(json.loads(payload("push__5.json")), after="0" * 40)
    hook = Gitea().parse({"X-Gitea-Event": "push"}, json.dumps(deleted).encode())
    assert hook.kind == "ignored" and "branch deleted" in hook.reason


def test_pull_request_from_a_fork_by_repository_id() -> None:
    data = json.loads(payload("pull_request__7.json"))
    same_repo = Gitea().parse({"X-Gitea-Event": "pull_request"}, json.dumps(data).encode()).event
    assert same_repo is not None and not same_repo.from_fork
    data["pull_request"]["head"]["repo_id"] = 1234
    event = Gitea().parse({"X-Gitea-Event": "pull_request"}, json.dumps(data).encode()).event
    assert event is not None and event.from_fork and event.kind is EventKind.PULL_REQUEST


def test_unsupported_event_is_ignored_and_garbage_is_bad_payload() -> None:
    from shera.forges.base import BadPayload

    assert Gitea().parse({"X-Gitea-Event": "issues"}, b"{}").reason == "unsupported event 'issues'"
    with pytest.raises(BadPayload):
        Gitea().parse({"X-Gitea-Event": "push"}, b"not json")
    with pytest.raises(BadPayload):
        Gitea().parse({}, payload("push__5.json"))


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("pending", "pending"),
        ("running", "pending"),
        ("success", "success"),
        ("failure", "failure"),
        ("killed", "error"),
    ],
)
def test_commit_status_reaches_the_api(state: str, expected: str) -> None:
    with recording_server() as server:
        target = StatusTarget(
            api_url=server.url + "/api/v1", token="tea-x", repo="gogits/hello-world", sha=SHA
        )
        Gitea().report_status(target, state, "x" * 200, "https://shera.example/runs/1")
    [request] = server.requests
    assert request.path == f"/api/v1/repos/gogits/hello-world/statuses/{SHA}"
    assert request.headers["authorization"] == "token tea-x"
    body = json.loads(request.body)
    assert (body["state"], body["context"], body["target_url"]) == (
        expected,
        "shera",
        "https://shera.example/runs/1",
    )
    assert len(body["description"]) == 140  # cut to the length every forge accepts
