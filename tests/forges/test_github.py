"""GitHub: the documented signature vector, rejected requests, event details, commit statuses over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from shera.forges.base import StatusTarget
from shera.forges.github import GitHub
from shera.model.event import EventKind
from tests.forges.recorder import recording_server
from tests.support.corpus import need_corpus

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def vector() -> dict[str, str]:
    vectors = json.loads((need_corpus() / "webhooks" / "signature-vectors.json").read_text())["vectors"]
    return next(v for v in vectors if v["forge"] == "github")


def payload(name: str) -> bytes:
    return (need_corpus() / "webhooks" / "github" / name).read_bytes()


def signed(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


def test_documented_signature_vector_verifies() -> None:
    v = vector()
    headers = {"X-Hub-Signature-256": v["expected_header_value"]}
    assert GitHub().verify(headers, v["payload"].encode(), v["secret"])
    # header names are case-insensitive, as HTTP says
    assert GitHub().verify(
        {"x-hub-signature-256": v["expected_header_value"]}, v["payload"].encode(), v["secret"]
    )


def test_sign_produces_the_documented_header() -> None:
    v = vector()
    headers = GitHub().sign(v["payload"].encode(), v["secret"], event="push", delivery="d-1")
    assert headers["X-Hub-Signature-256"] == v["expected_header_value"]
    assert (headers["X-GitHub-Event"], headers["X-GitHub-Delivery"]) == ("push", "d-1")


@pytest.mark.parametrize(
    "case", ["forged", "reserialized", "wrong-secret", "missing-header", "empty-secret", "no-prefix"]
)
def test_bad_requests_are_rejected(case: str) -> None:
    body = payload("push__12.json")
    secret = "s3cret"
    headers = signed(body, secret)
    if case == "forged":
        headers = signed(body.replace(b"Update README", b"Evil README!!"), secret)
    elif case == "reserialized":
        body = json.dumps(json.loads(body)).encode()  # same JSON, different bytes
    elif case == "wrong-secret":
        secret = "other"
    elif case == "missing-header":
        del headers["X-Hub-Signature-256"]
    elif case == "empty-secret":
        headers, secret = signed(body, ""), ""
    elif case == "no-prefix":
        headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].removeprefix("sha256=")
    assert not GitHub().verify(headers, body, secret)


def test_valid_signature_verifies_on_the_raw_bytes() -> None:
    body = payload("push__12.json")
    assert GitHub().verify(signed(body, "s3cret"), body, "s3cret")


def test_push_event_fields() -> None:
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
    hook = GitHub().parse(headers, payload("push__12.json"))
    assert hook.kind == "event" and hook.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    event = hook.event
    assert event is not None
    assert event.kind is EventKind.PUSH
    assert (event.branch, event.ref, event.commit) == (
        "master",
        "refs/heads/master",
        "199eddf46df50de8d02e99bf1c5fdb4101338224",
    )
    assert (event.message, event.author, event.changed_files) == (
        "Update README",
        "Codertocat",
        ("README.md",),
    )
    assert (event.repo, event.repo_url) == (
        "Codertocat/Hello-World",
        "https://github.com/Codertocat/Hello-World.git",
    )
    assert event.default_branch == "master" and not event.from_fork and event.pull_request is None


def test_changed_files_are_the_union_over_all_commits() -> None:
    data = json.loads(payload("push__12.json"))
    first = dict(data["commits"][0], added=["a.txt"], modified=["README.md"], removed=[])
    second = dict(data["commits"][0], added=[], modified=["README.md", "b.txt"], removed=["old.txt"])
    data["commits"] = [first, second]
    hook = GitHub().parse({"X-GitHub-Event": "push"}, json.dumps(data).encode())
    assert hook.event is not None and hook.event.changed_files == ("README.md", "a.txt", "b.txt", "old.txt")


def test_pull_request_from_a_fork_is_marked() -> None:
    data = json.loads(payload("pull_request__1.json"))
    data["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World"
    hook = GitHub().parse({"X-GitHub-Event": "pull_request"}, json.dumps(data).encode())
    event = hook.event
    assert event is not None and event.from_fork
    assert (event.branch, event.source_branch, event.pull_request) == ("master", "changes", 2)
    assert (event.ref, event.commit) == ("refs/pull/2/head", SHA)
    assert event.repo == "Codertocat/Hello-World"  # the base repository is the one that runs


def test_synchronize_is_a_pull_request_event() -> None:
    data = dict(json.loads(payload("pull_request__1.json")), action="synchronize")
    hook = GitHub().parse({"X-GitHub-Event": "pull_request"}, json.dumps(data).encode())
    assert hook.event is not None and hook.event.kind is EventKind.PULL_REQUEST and not hook.event.from_fork


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
            api_url=server.url + "/", token="ghp_x", repo="octo/hello", sha=SHA, context="shera/ci"
        )
        GitHub().report_status(target, state, "Run 7 " + state, "https://shera.example/runs/7")
    [request] = server.requests
    assert request.path == f"/repos/octo/hello/statuses/{SHA}"
    assert request.headers["authorization"] == "Bearer ghp_x"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "state": expected,
        "target_url": "https://shera.example/runs/7",
        "description": "Run 7 " + state,
        "context": "shera/ci",
    }
