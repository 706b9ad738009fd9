"""``shera webhook replay``: the request that reaches a (recording) server verifies with the same forge."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shera.cli import webhook_cmd
from shera.forges.base import FORGES
from shera.forges.gitea import Gitea
from shera.forges.github import GitHub
from shera.forges.gitlab import GitLab
from shera.forges.gogs import Gogs
from shera.plugins import Registry
from tests.forges.recorder import recording_server
from tests.support.corpus import ROOT

SAMPLES = ROOT / "webhooks"
FORGE_CLASSES = {"github": GitHub, "gitlab": GitLab, "gitea": Gitea, "gogs": Gogs}
CASES = [
    ("github", "push__12.json", "push"),
    ("github", "ping__1.json", "ping"),
    ("gitlab", "merge_request__8.json", "Merge Request Hook"),
    ("gitea", "create__3.json", "create"),
    ("gogs", "push__1.json", "push"),
]


def app() -> typer.Typer:
    registry = Registry()
    for name, cls in FORGE_CLASSES.items():
        registry.register(FORGES, name, cls)
    cli = typer.Typer()
    webhook_cmd.register(cli, registry)
    return cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app(), ["webhook", "replay", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("forge", "file", "event"), CASES)
def test_replayed_request_verifies_and_parses_like_the_original(forge: str, file: str, event: str) -> None:
    path = SAMPLES / forge / file
    with recording_server(status=202, reply=b'{"status": "created"}') as server:
        code, out, _ = run(
            str(path), "--forge", forge, "--url", server.url + "/hooks/x/1", "--secret", "s3cret"
        )
    assert code == 0
    assert out.splitlines() == ["202 Accepted", '{"status": "created"}']
    [request] = server.requests
    assert request.path == "/hooks/x/1"
    assert request.body == path.read_bytes()  # the exact bytes, never re-serialized
    receiver = FORGE_CLASSES[forge]()
    assert receiver.verify(request.headers, request.body, "s3cret")
    assert not receiver.verify(request.headers, request.body, "another")
    hook = receiver.parse(request.headers, request.body)
    assert hook.kind in ("event", "ping")
    assert hook.delivery_id and not hook.delivery_id.startswith("sha256:")  # a delivery id header was sent
    assert receiver.guess_event(request.body) == event


def test_event_and_delivery_options_are_sent() -> None:
    path = SAMPLES / "github" / "push__13.json"
    with recording_server() as server:
        code, _, _ = run(
            str(path),
            "--forge",
            "github",
            "--url",
            server.url,
            "--secret",
            "k",
            "--event",
            "push",
            "--delivery",
            "same-id",
        )
    assert code == 0
    [request] = server.requests
    assert (request.headers["x-github-event"], request.headers["x-github-delivery"]) == ("push", "same-id")
    assert GitHub().parse(request.headers, request.body).delivery_id == "same-id"


def test_non_2xx_answer_exits_1() -> None:
    path = SAMPLES / "gitea" / "push__5.json"
    with recording_server(status=401, reply=b'{"detail": "bad signature"}') as server:
        code, out, _ = run(str(path), "--forge", "gitea", "--url", server.url, "--secret", "k")
    assert code == 1 and out.startswith("401 Unauthorized")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    path = SAMPLES / "github" / "push__12.json"
    code, _, err = run(
        str(tmp_path / "missing.json"), "--forge", "github", "--url", "http://x", "--secret", "k"
    )
    assert code == 2 and "cannot read" in err
    code, _, err = run(str(path), "--forge", "bitbucket", "--url", "http://x", "--secret", "k")
    assert code == 2 and "unknown forge 'bitbucket'; known: gitea, github, gitlab, gogs" in err
    code, _, err = run(str(path), "--forge", "github", "--url", "ftp://x", "--secret", "k")
    assert code == 2 and "--url must be http(s)" in err
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": 1}')
    code, _, err = run(str(odd), "--forge", "github", "--url", "http://x", "--secret", "k")
    assert code == 2 and "pass --event" in err


def test_unreachable_server_exits_1() -> None:
    path = SAMPLES / "github" / "push__12.json"
    with recording_server() as server:
        url = server.url
    code, _, err = run(str(path), "--forge", "github", "--url", url, "--secret", "k")
    assert code == 1 and "cannot reach" in err
