"""The webhook endpoint: signature before anything, size cap, ping/ignored/duplicate, one run per push."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from shera.forges.github import GitHub
from shera.store import runs
from tests.api.conftest import Api, Tenant

SHA = "a" * 40


def push(sha: str = SHA, branch: str = "main") -> bytes:
    payload = {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": sha,
        "repository": {"full_name": "acme/app", "clone_url": "https://git.example.test/acme/app.git"},
        "head_commit": {"id": sha, "message": "change"},
        "sender": {"login": "adora"},
    }
    return json.dumps(payload).encode()


def signed(body: bytes, secret: str, event: str = "push", delivery: str = "d-1") -> dict[str, str]:
    return GitHub().sign(body, secret, event=event, delivery=delivery)


@contextmanager
def live_server(api: Api) -> Iterator[int]:
    """The app served by uvicorn on a free loopback port, in a thread, for raw-socket tests."""
    config = uvicorn.Config(api.client.app, host="127.0.0.1", port=0, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def count_rows(api: Api, table: str) -> int:
    with api.db.engine.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)  # noqa: S608


def test_signed_push_queues_a_run_and_redelivery_is_duplicate(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    body = push()
    first = api.client.post(
        project["hook_url"], content=body, headers=signed(body, project["webhook_secret"])
    )
    again = api.client.post(
        project["hook_url"], content=body, headers=signed(body, project["webhook_secret"])
    )

    assert first.status_code == 202
    assert first.json()["status"] == "queued"
    run = runs.get_run(api.db, first.json()["run_id"], acme.id)
    assert run is not None and run.sha == SHA and run.status == "queued"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert count_rows(api, "runs") == 1


def test_bad_or_missing_signature_is_401_and_stores_nothing(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    body = push()
    wrong = signed(body, "not-the-secret")
    missing = {k: v for k, v in signed(body, project["webhook_secret"]).items() if k != "X-Hub-Signature-256"}
    tampered = signed(body, project["webhook_secret"])

    for headers, content in ((wrong, body), (missing, body), (tampered, body + b" ")):
        response = api.client.post(project["hook_url"], content=content, headers=headers)
        assert response.status_code == 401
    assert count_rows(api, "deliveries") == 0 and count_rows(api, "runs") == 0


def test_unknown_project_forge_mismatch_and_unknown_forge_are_404(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    body = push()
    headers = signed(body, project["webhook_secret"])
    base = "http://testserver/hooks"
    assert api.client.post(f"{base}/github/{'0' * 32}", content=body, headers=headers).status_code == 404
    assert api.client.post(f"{base}/github/not-an-id", content=body, headers=headers).status_code == 404
    assert api.client.post(f"{base}/gitlab/{project['id']}", content=body, headers=headers).status_code == 404
    assert (
        api.client.post(f"{base}/bitbucket/{project['id']}", content=body, headers=headers).status_code == 404
    )


def test_oversized_body_is_413(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    cap = api.settings.webhook_max_bytes
    big = b"{" + b" " * cap + b"}"
    response = api.client.post(
        project["hook_url"], content=big, headers=signed(big, project["webhook_secret"])
    )
    assert response.status_code == 413


def test_declared_oversized_body_is_413_before_any_body_is_sent(api: Api, acme: Tenant) -> None:
    # Given a real server, when a client announces a body over the cap and sends none of it,
    # then the 413 arrives anyway: the server did not wait for the body.
    project = api.project(acme)
    path = project["hook_url"].split("8080", 1)[1]
    with live_server(api) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def test_oversized_chunked_body_is_413_without_reading_it_all(api: Api, acme: Tenant) -> None:
    # Given a chunked body (no Content-Length), when the client has sent a little more than the cap,
    # then the server answers 413 without waiting for the rest.
    project = api.project(acme)
    path = project["hook_url"].split("8080", 1)[1]
    chunk = b" " * 16384
    with live_server(api) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        for _ in range(api.settings.webhook_max_bytes // len(chunk) + 2):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    assert count_rows(api, "deliveries") == 0


def test_ping_and_ignored_events_are_2xx_without_runs(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    secret = project["webhook_secret"]
    ping = json.dumps({"zen": "Keep it simple", "hook_id": 1}).encode()
    deleted = json.loads(push())
    deleted.update({"deleted": True, "after": "0" * 40})
    deleted_body = json.dumps(deleted).encode()
    issue = json.dumps({"action": "opened", "issue": {}}).encode()

    pong = api.client.post(project["hook_url"], content=ping, headers=signed(ping, secret, "ping", "p"))
    gone = api.client.post(
        project["hook_url"], content=deleted_body, headers=signed(deleted_body, secret, "push", "x")
    )
    other = api.client.post(project["hook_url"], content=issue, headers=signed(issue, secret, "issues", "i"))

    assert (pong.status_code, pong.json()["status"]) == (200, "pong")
    assert (gone.status_code, gone.json()["status"]) == (200, "ignored")
    assert "deleted" in gone.json()["reason"]
    assert (other.status_code, other.json()["status"]) == (200, "ignored")
    assert count_rows(api, "runs") == 0


def test_malformed_json_with_a_valid_signature_is_200_ignored(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    body = b"{not json"
    response = api.client.post(
        project["hook_url"], content=body, headers=signed(body, project["webhook_secret"])
    )
    assert response.status_code == 200
    assert response.json()["status"] == "ignored" and "malformed" in response.json()["reason"]


def test_webhook_outcomes_are_counted(api: Api, acme: Tenant) -> None:
    project: dict[str, Any] = api.project(acme)
    body = push()
    api.client.post(project["hook_url"], content=body, headers=signed(body, project["webhook_secret"]))
    api.client.post(project["hook_url"], content=body, headers=signed(body, project["webhook_secret"]))
    api.client.post(project["hook_url"], content=body, headers=signed(body, "wrong"))
    text = api.client.get("/metrics").text
    assert 'shera_webhooks_total{forge="github",outcome="accepted"} 1.0' in text
    assert 'shera_webhooks_total{forge="github",outcome="duplicate"} 1.0' in text
    assert 'shera_webhooks_total{forge="github",outcome="rejected"} 1.0' in text
    assert 'shera_runs{status="queued"} 1.0' in text


def test_a_rotated_secret_verifies_at_once_and_the_old_one_stops(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    old = project["webhook_secret"]
    first = push("b" * 40)
    assert api.client.post(project["hook_url"], content=first, headers=signed(first, old)).status_code == 202
    # Rotated through this API process: the project kept for the webhook path is dropped at once.
    rotated = api.client.post(f"/api/v1/projects/{project['id']}/webhook-secret", headers=acme.auth())
    new = rotated.json()["webhook_secret"]
    body = push("c" * 40)
    refused = api.client.post(project["hook_url"], content=body, headers=signed(body, old, delivery="d-2"))
    accepted = api.client.post(project["hook_url"], content=body, headers=signed(body, new, delivery="d-3"))
    assert (refused.status_code, accepted.status_code) == (401, 202)


def test_a_secret_rotated_by_another_api_process_verifies_at_once(api: Api, acme: Tenant) -> None:
    from shera.store.projects import update_project

    project = api.project(acme)
    first = push("b" * 40)
    headers = signed(first, project["webhook_secret"])
    assert api.client.post(project["hook_url"], content=first, headers=headers).status_code == 202
    # Another API process rotates the secret (straight in the database: this process is not told);
    update_project(api.db, project["id"], acme.id, webhook_secret="rotated-elsewhere-" + "x" * 20)
    body = push("c" * 40)
    new_headers = signed(body, "rotated-elsewhere-" + "x" * 20, delivery="d-2")
    # the new secret verifies at once (a failed check re-reads the project),
    assert api.client.post(project["hook_url"], content=body, headers=new_headers).status_code == 202
    # and the old one no longer does (that re-read replaced what was kept).
    late = push("d" * 40)
    old_headers = signed(late, project["webhook_secret"], delivery="d-3")
    assert api.client.post(project["hook_url"], content=late, headers=old_headers).status_code == 401


def test_a_deleted_project_gets_404_at_once(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    body = push()
    headers = signed(body, project["webhook_secret"])
    assert api.client.post(project["hook_url"], content=body, headers=headers).status_code == 202
    assert api.client.delete(f"/api/v1/projects/{project['id']}", headers=acme.auth()).status_code == 204
    again = push("e" * 40)
    response = api.client.post(
        project["hook_url"], content=again, headers=signed(again, project["webhook_secret"])
    )
    assert response.status_code == 404


def test_the_route_serves_deliveries_where_the_fast_path_does_not_see_them(api: Api, acme: Tenant) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    # Mounted under a prefix (as behind a path-routing proxy), the middleware does not match the path:
    outer = FastAPI()
    outer.mount("/shera", api.client.app)
    project = api.project(acme)
    body = push()
    path = "/shera" + project["hook_url"].split(":8080", 1)[1]
    with TestClient(outer) as client:
        accepted = client.post(path, content=body, headers=signed(body, project["webhook_secret"]))
        forged = client.post(path, content=body, headers=signed(body, "wrong", delivery="d-2"))
    # the FastAPI route gives the same answers.
    assert accepted.status_code == 202 and accepted.json()["status"] == "queued"
    assert forged.status_code == 401


def test_fast_path_requests_are_counted_under_the_webhook_route(api: Api, acme: Tenant) -> None:
    project = api.project(acme)
    body = push()
    api.client.post(project["hook_url"], content=body, headers=signed(body, project["webhook_secret"]))
    text = api.client.get("/metrics").text
    assert 'route="/hooks/{forge}/{project_id}",status="202"' in text
