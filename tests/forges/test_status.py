"""Commit status errors are She-Ra errors by type (temporary vs permanent), never httpx exceptions."""

from __future__ import annotations

import socket

import pytest

from shera.errors import PermanentError, TemporaryError
from shera.forges.base import Forge, ForgeUnavailable, StatusRejected, StatusTarget
from shera.forges.gitea import Gitea
from shera.forges.github import GitHub
from shera.forges.gitlab import GitLab
from tests.forges.recorder import recording_server

SHA = "199eddf46df50de8d02e99bf1c5fdb4101338224"
FORGES: list[Forge] = [GitHub(), GitLab(), Gitea()]
ANSWERS: list[tuple[int, type[Exception]]] = [(code, ForgeUnavailable) for code in (500, 503, 429)]
ANSWERS += [(code, StatusRejected) for code in (401, 404, 422)]


@pytest.mark.parametrize("forge", FORGES, ids=lambda f: f.name)
@pytest.mark.parametrize(("code", "error"), ANSWERS)
def test_http_answers_map_to_error_types(forge: Forge, code: int, error: type[Exception]) -> None:
    with recording_server(status=code, reply=b'{"message": "nope"}') as server:
        target = StatusTarget(api_url=server.url, token="t", repo="o/r", sha=SHA)
        with pytest.raises(error, match=str(code)):
            forge.report_status(target, "success", "ok", "https://shera.example/runs/1")
    assert len(server.requests) == 1


def test_unreachable_forge_is_temporary() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = StatusTarget(api_url=f"http://127.0.0.1:{port}", token="t", repo="o/r", sha=SHA)
    with pytest.raises(TemporaryError):
        GitHub().report_status(target, "pending", "queued", "https://shera.example/runs/1")


@pytest.mark.parametrize(
    "target",
    [
        StatusTarget(api_url="http://127.0.0.1:9", token="t", repo="o/r", sha="abc123"),
        StatusTarget(api_url="http://127.0.0.1:9", token="t", repo="o/r", sha=SHA + "/../x"),
        StatusTarget(api_url="http://127.0.0.1:9", token="t", repo="o/../r", sha=SHA),
        StatusTarget(api_url="http://127.0.0.1:9", token="t", repo="o/r/x", sha=SHA),
        StatusTarget(api_url="file:///etc/passwd", token="t", repo="o/r", sha=SHA),
    ],
)
def test_bad_targets_are_permanent_and_send_nothing(target: StatusTarget) -> None:
    with pytest.raises(PermanentError):
        GitHub().report_status(target, "success", "ok", "u")


def test_unknown_run_state_is_permanent() -> None:
    target = StatusTarget(api_url="http://127.0.0.1:9", token="t", repo="o/r", sha=SHA)
    for forge in FORGES:
        with pytest.raises(StatusRejected, match="known:"):
            forge.report_status(target, "exploded", "?", "u")
