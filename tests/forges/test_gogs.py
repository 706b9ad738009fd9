"""Gogs: its own headers on Gitea's payloads; tags from push; pull requests and statuses unsupported."""

from __future__ import annotations

import json
from pathlib import Path

from shera.forges.base import StatusTarget
from shera.forges.gitea import Gitea
from shera.forges.gogs import Gogs
from shera.model.event import EventKind
from tests.forges.recorder import recording_server
from tests.support.corpus import ROOT

SAMPLES = ROOT / "webhooks" / "gogs"
SHA = "4522cbcefc20728a5b72b3a86af35e608622c514"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_gogs_headers_verify_and_gitea_headers_do_not() -> None:
    body = sample("push__1.json")
    headers = Gogs().sign(body, "k", event="push", delivery="d-1")
    assert set(headers) >= {"X-Gogs-Signature", "X-Gogs-Event", "X-Gogs-Delivery"}
    assert Gogs().verify(headers, body, "k")
    assert not Gogs().verify(Gitea().sign(body, "k", event="push", delivery="d"), body, "k")
    assert not Gogs().verify(headers, body, "other")
    assert not Gogs().verify(headers, body.replace(b"Updated", b"Poisoned"), "k")


def test_push_sample_parses() -> None:
    hook = Gogs().parse({"X-Gogs-Event": "push", "X-Gogs-Delivery": "d-7"}, sample("push__1.json"))
    event = hook.event
    assert hook.delivery_id == "d-7" and event is not None and event.kind is EventKind.PUSH
    assert (event.branch, event.commit, event.changed_files) == ("master", SHA, ("README.md",))
    assert (event.repo, event.default_branch) == ("gogits/hello-world", "master")


def test_tag_runs_come_from_the_tag_push_not_from_create() -> None:
    create = Gogs().parse({"X-Gogs-Event": "create"}, sample("create__1.json"))
    assert create.kind == "ignored" and "'push'" in create.reason
    data = dict(json.loads(sample("push__1.json")), ref="refs/tags/v1.0.0")
    event = Gogs().parse({"X-Gogs-Event": "push"}, json.dumps(data).encode()).event
    assert event is not None and event.kind is EventKind.TAG
    assert (event.tag, event.commit, event.branch) == ("v1.0.0", SHA, "master")


def test_pull_requests_are_ignored_with_the_reason() -> None:
    body = json.dumps({"action": "opened", "number": 2, "pull_request": {"head_branch": "feature"}}).encode()
    hook = Gogs().parse({"X-Gogs-Event": "pull_request"}, body)
    assert hook.kind == "ignored" and "no head commit" in hook.reason


def test_report_status_sends_nothing() -> None:
    with recording_server() as server:
        target = StatusTarget(api_url=server.url + "/api/v1", token="t", repo="gogits/hello-world", sha=SHA)
        Gogs().report_status(target, "success", "ok", "https://shera.example/runs/1")
    assert server.requests == []


def test_samples_have_sources_rows() -> None:
    rows = (ROOT / "webhooks" / "SOURCES.tsv").read_text().splitlines()[1:]
    listed = {row.split("\t")[0] for row in rows}
    on_disk = {f"{p.parent.name}/{p.name}" for p in Path(ROOT / "webhooks").glob("*/*.json")}
    assert listed == on_disk
