"""Registry client against a real private ``docker-registry``: catalog and tag pages, digests, sizes,
creation times, delete by digest, htpasswd basic auth, and the bearer-token flow.

The bearer flow is partly emulated: the Debian registry's own token auth needs a certificate to verify
tokens with, so a small HTTP front in this file plays "registry with token auth" — it answers ``401
WWW-Authenticate: Bearer realm=…,service=…,scope=…`` without a valid token, issues tokens at its realm for
basic credentials, and forwards authorized requests to the real registry behind it.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shera.build.registry import (
    Credentials,
    RegistryClient,
    RegistryRefused,
    RegistryUnavailable,
    base_url_for,
    parse_challenge,
    parse_created,
)
from shera.errors import PermanentError, TemporaryError
from tests.support.oci import push_image
from tests.support.registry import HtpasswdRegistry, free_port


def test_lists_tags_digests_sizes_and_creation_of_a_real_registry(registry: str) -> None:
    with httpx.Client(base_url=f"http://{registry}") as http:
        v1 = push_image(http, "team/app", ["v1"], payload=b"one", created="2026-01-02T03:04:05.5Z")
        v2 = push_image(http, "team/app", ["v2", "latest"], payload=b"two")
        push_image(http, "team/worker", ["v1"])
        push_image(http, "zeta", ["v1"])

    with RegistryClient(f"http://{registry}") as client:
        client.ping()
        # page_size=1 makes the registry send a Link header per page: every page is followed.
        assert client.catalog(page_size=1) == ["team/app", "team/worker", "zeta"]
        assert sorted(client.tags("team/app", page_size=1)) == ["latest", "v1", "v2"]
        assert client.manifest_digest("team/app", "v1") == v1.digest
        assert client.manifest_digest("team/app", "latest") == v2.digest
        info = client.manifest("team/app", "v1")

    assert v1.digest != v2.digest
    assert info.digest == v1.digest and info.size == v1.size
    assert info.created == datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)


def test_delete_by_digest_removes_every_tag_on_that_digest(registry: str) -> None:
    with httpx.Client(base_url=f"http://{registry}") as http:
        push_image(http, "team/app", ["v1"], payload=b"one")
        v2 = push_image(http, "team/app", ["v2", "latest"], payload=b"two")

    with RegistryClient(f"http://{registry}") as client:
        assert client.delete("team/app", v2.digest) is True
        assert client.tags("team/app") == ["v1"]
        assert client.delete("team/app", v2.digest) is False  # already gone
        with pytest.raises(RegistryRefused) as missing:
            client.manifest_digest("team/app", "v2")
        with pytest.raises(PermanentError, match="digest, not a tag"):
            client.delete("team/app", "v1")

    assert missing.value.status == 404


def test_htpasswd_basic_auth(registry_htpasswd: HtpasswdRegistry) -> None:
    address = registry_htpasswd.address
    good = Credentials(registry_htpasswd.username, registry_htpasswd.password)
    with httpx.Client(base_url=f"http://{address}", auth=(good.username, good.password)) as http:
        pushed = push_image(http, "team/app", ["v1"])

    with RegistryClient(f"http://{address}", auth=good) as client:
        assert client.tags("team/app") == ["v1"]
        assert client.manifest_digest("team/app", "v1") == pushed.digest
    for auth in (None, Credentials(good.username, "wrong")):
        with (
            RegistryClient(f"http://{address}", auth=auth) as client,
            pytest.raises(RegistryRefused) as refused,
        ):
            client.tags("team/app")
        assert refused.value.status == 401 and "REGISTRY_USERNAME" in str(refused.value)


@dataclass
class TokenFront:
    """A bearer-token front for a real registry (see the module docstring); records what it saw."""

    upstream: str
    username: str = "adora"
    password: str = "she-ra"
    tokens: dict[str, set[str]] = field(default_factory=dict)  # token -> scopes it grants
    token_requests: list[tuple[str, list[str]]] = field(default_factory=list)  # (basic user, scopes)
    address: str = ""

    def challenge(self, scope: str) -> str:
        return f'Bearer realm="http://{self.address}/token",service="shera-test",scope="{scope}"'


def _scope(method: str, path: str) -> str:
    if path.startswith("/v2/_catalog"):
        return "registry:catalog:*"
    name = path[len("/v2/") :].rsplit("/manifests/", 1)[0].rsplit("/tags/", 1)[0].rsplit("/blobs/", 1)[0]
    return f"repository:{name}:{'delete' if method == 'DELETE' else 'pull'}"


def _handler(front: TokenFront) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _token(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            basic = self.headers.get("Authorization", "")
            user, _, password = base64.b64decode(basic.removeprefix("Basic ")).decode().partition(":")
            front.token_requests.append((user, query.get("scope", [])))
            if (user, password) != (front.username, front.password):
                self._reply(401, b'{"details":"bad credentials"}')
                return
            token = secrets.token_hex(8)
            front.tokens[token] = set(query.get("scope", []))
            self._reply(200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"})

        def _forward(self) -> None:
            if self.path.startswith("/token"):
                self._token()
                return
            path = urlsplit(self.path).path
            scope = "registry:catalog:*" if path == "/v2/" else _scope(self.command, path)
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if scope not in front.tokens.get(token, set()) and path != "/v2/":
                self._reply(401, b"{}", {"WWW-Authenticate": front.challenge(scope)})
                return
            upstream = httpx.request(
                self.command,
                f"http://{front.upstream}{self.path}",
                headers={"Accept": self.headers.get("Accept", "*/*")},
            )
            keep = ("Content-Type", "Docker-Content-Digest", "Link")
            headers = {k: upstream.headers[k] for k in keep if k in upstream.headers}
            self._reply(upstream.status_code, upstream.content, headers)

        do_GET = do_HEAD = do_DELETE = _forward  # noqa: N815 (http.server's method names)

    return Handler


@pytest.fixture
def token_front(registry: str) -> Iterator[TokenFront]:
    front = TokenFront(upstream=registry)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(front))
    front.address = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield front
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_bearer_token_flow(registry: str, token_front: TokenFront) -> None:
    with httpx.Client(base_url=f"http://{registry}") as http:
        pushed = push_image(http, "team/app", ["v1", "v2"])
    auth = Credentials(token_front.username, token_front.password)

    with RegistryClient(f"http://{token_front.address}", auth=auth) as client:
        assert sorted(client.tags("team/app")) == ["v1", "v2"]
        assert client.manifest_digest("team/app", "v1") == pushed.digest  # same scope: token reused
        assert client.catalog() == ["team/app"]
        token_front.tokens.clear()  # every token expires: the client fetches a new one by itself
        assert client.manifest_digest("team/app", "v2") == pushed.digest
        assert client.delete("team/app", pushed.digest) is True

    assert token_front.token_requests == [
        ("adora", ["repository:team/app:pull"]),
        ("adora", ["registry:catalog:*"]),
        ("adora", ["repository:team/app:pull"]),
        ("adora", ["repository:team/app:delete"]),
    ]
    with httpx.Client(base_url=f"http://{registry}") as http:
        assert http.get("/v2/team/app/tags/list").json()["tags"] in (None, [])


def test_bearer_token_refused_for_bad_credentials(token_front: TokenFront) -> None:
    with (
        RegistryClient(f"http://{token_front.address}", auth=Credentials("adora", "wrong")) as client,
        pytest.raises(RegistryRefused, match="token service") as refused,
    ):
        client.tags("team/app")
    assert refused.value.status == 401


def test_registry_down_is_a_temporary_error() -> None:
    with (
        RegistryClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client,
        pytest.raises(RegistryUnavailable) as down,
    ):
        client.ping()
    assert isinstance(down.value, TemporaryError)


def test_status_codes_map_to_temporary_and_permanent_errors() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if "broken" in request.url.path:
            return httpx.Response(503, json={"errors": [{"code": "UNAVAILABLE", "message": "try later"}]})
        return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]})

    with RegistryClient("https://registry.test", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(RegistryUnavailable, match="503 UNAVAILABLE try later"):
            client.tags("broken")
        with pytest.raises(RegistryRefused) as unknown:
            client.tags("team/app")
        with pytest.raises(PermanentError, match="invalid repository name"):
            client.tags("../../etc")
        with pytest.raises(PermanentError, match="invalid tag or digest"):
            client.manifest_digest("team/app", "v1/../../x")

    assert (unknown.value.status, unknown.value.code) == (404, "NAME_UNKNOWN")
    assert seen == ["/v2/broken/tags/list", "/v2/team/app/tags/list"]  # bad names never left the client


def test_insecure_registries_use_plain_http_and_others_tls() -> None:
    insecure = frozenset({"127.0.0.1:5000"})
    assert base_url_for("127.0.0.1:5000", insecure) == "http://127.0.0.1:5000"
    assert base_url_for("registry.example.com", insecure) == "https://registry.example.com"
    assert RegistryClient.for_host("registry.example.com", insecure=insecure).base_url.startswith("https://")


def test_challenge_and_created_parsing() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
    )
    assert parse_challenge(header) == (
        "bearer",
        {
            "realm": "https://auth.example/token",
            "service": "registry.example",
            "scope": "repository:a/b:pull",
        },
    )
    assert parse_challenge("") == ("", {})
    assert parse_created("2026-01-02T03:04:05.123456789Z") == datetime(
        2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC
    )
    assert parse_created("yesterday") is None
    assert parse_created(None) is None
