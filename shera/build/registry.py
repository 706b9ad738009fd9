"""Build adapters: an httpx client of the distribution v2 registry API (list, tags, digests, sizes, delete).

Auth follows the registry's challenge: a request goes out without credentials (or with what worked
before); a ``401`` with ``WWW-Authenticate: Basic`` is retried with basic auth, one with
``Bearer realm=,service=,scope=`` fetches a token from the realm (with basic auth when credentials are
set) and is retried with it. Tokens are kept per scope and fetched again when refused. Credentials go to
the registry's ``base_url`` and to the token realm it names, nowhere else.

Errors: connection failures, timeouts and ``5xx`` raise ``RegistryUnavailable`` (temporary); any other
``4xx`` raises ``RegistryRefused`` (permanent, with ``status`` and the registry's error ``code``;
``RegistryUnavailable`` is shared with buildah pushes, from ``shera.build.errors``). httpx
exceptions never leave this module. A client is not thread-safe; use one per thread and ``close`` it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from shera.build.errors import RegistryUnavailable
from shera.build.registry_parse import (
    DIGEST_RE,
    INDEX_TYPES,
    MANIFEST_ACCEPT,
    base_url_for,
    check_reference,
    check_repository,
    parse_challenge,
    parse_created,
)
from shera.errors import PermanentError

__all__ = [
    "Credentials",
    "ManifestInfo",
    "RegistryClient",
    "RegistryRefused",
    "RegistryUnavailable",
    "base_url_for",
    "parse_challenge",
    "parse_created",
]

MAX_PAGES = 1000


class RegistryRefused(PermanentError):
    """The registry answered 4xx (unknown name, bad credentials, delete disabled...)."""

    def __init__(self, message: str, status: int, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    """A manifest: its digest, media type, total size (config + layers, bytes) and image creation time."""

    digest: str
    media_type: str
    size: int
    created: datetime | None


class RegistryClient:
    """One registry at ``base_url`` (``https://host:port``); see the module docstring for auth and errors."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Credentials | None = None,
        verify_tls: bool = True,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._http = httpx.Client(
            base_url=self.base_url,
            verify=verify_tls,
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
        )
        self._basic = False  # the registry asked for basic auth: send it up front from now on
        self._tokens: dict[str, str] = {}  # bearer token per scope
        self._scopes: dict[str, str] = {}  # scope the registry asked for, per resource we touched

    @classmethod
    def for_host(
        cls, host: str, *, insecure: frozenset[str], auth: Credentials | None = None, timeout: float = 30.0
    ) -> RegistryClient:
        """A client of ``host`` (``host:port``): plain HTTP when listed in ``insecure``, else verified TLS."""
        return cls(base_url_for(host, insecure), auth=auth, verify_tls=True, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the API -------------------------------------------------------------------------------------

    def ping(self) -> None:
        """``GET /v2/``: returns when the registry answers and accepts our credentials."""
        self._request("GET", "/v2/", resource="registry")

    def catalog(self, page_size: int = 100) -> list[str]:
        """Every repository of the registry, following ``Link: <…>; rel="next"`` pages."""
        names: list[str] = []
        for body in self._pages("/v2/_catalog", page_size, resource="registry:catalog"):
            names.extend(str(name) for name in body.get("repositories") or ())
        return names

    def tags(self, repository: str, page_size: int = 100) -> list[str]:
        """The tags of ``repository`` (``RegistryRefused`` 404 when the registry does not know it)."""
        check_repository(repository)
        tags: list[str] = []
        for body in self._pages(f"/v2/{repository}/tags/list", page_size, resource=repository):
            tags.extend(str(tag) for tag in body.get("tags") or ())
        return tags

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The ``Docker-Content-Digest`` of a tag's manifest (``HEAD``; computed from the body if absent)."""
        path = f"/v2/{check_repository(repository)}/manifests/{check_reference(reference)}"
        response = self._request("HEAD", path, resource=repository, headers={"Accept": MANIFEST_ACCEPT})
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return str(digest)
        body = self._request("GET", path, resource=repository, headers={"Accept": MANIFEST_ACCEPT})
        return "sha256:" + hashlib.sha256(body.content).hexdigest()

    def manifest(self, repository: str, reference: str) -> ManifestInfo:
        """Digest, media type, size (config + layers; for an index, its manifests' unique blobs) and the
        creation time from the image config (the newest of an index's images)."""
        path = f"/v2/{check_repository(repository)}/manifests/{check_reference(reference)}"
        response = self._request("GET", path, resource=repository, headers={"Accept": MANIFEST_ACCEPT})
        body = _json(response)
        media_type = str(body.get("mediaType") or response.headers.get("content-type", "").split(";")[0])
        digest = response.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(response.content).hexdigest()
        )
        children = body.get("manifests") if media_type in INDEX_TYPES else None
        manifests = [self._manifest_body(repository, str(m["digest"])) for m in children or ()] or [body]
        blobs: dict[str, int] = {}
        created: list[datetime] = []
        for item in manifests:
            config = item.get("config") or {}
            for blob in [config, *(item.get("layers") or ())]:
                if "digest" in blob:
                    blobs[str(blob["digest"])] = int(blob.get("size") or 0)
            if "digest" in config:
                when = self._created(repository, str(config["digest"]))
                if when is not None:
                    created.append(when)
        return ManifestInfo(digest, media_type, sum(blobs.values()), max(created, default=None))

    def delete(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest — and with it every tag on that digest. ``False`` when it was
        already gone; ``RegistryRefused`` 405 when the registry has delete disabled."""
        if not DIGEST_RE.match(digest):
            raise PermanentError(f"invalid digest {digest!r}: delete takes a digest, not a tag")
        path = f"/v2/{check_repository(repository)}/manifests/{digest}"
        try:
            self._request("DELETE", path, resource=repository, action="delete")
        except RegistryRefused as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- plumbing ------------------------------------------------------------------------------------

    def _manifest_body(self, repository: str, digest: str) -> dict[str, Any]:
        path = f"/v2/{repository}/manifests/{check_reference(digest)}"
        return _json(self._request("GET", path, resource=repository, headers={"Accept": MANIFEST_ACCEPT}))

    def _created(self, repository: str, config_digest: str) -> datetime | None:
        response = self._request("GET", f"/v2/{repository}/blobs/{config_digest}", resource=repository)
        return parse_created(_json(response).get("created"))

    def _pages(self, path: str, page_size: int, *, resource: str) -> list[dict[str, Any]]:
        url: str | None = path
        params: dict[str, Any] | None = {"n": page_size}
        bodies: list[dict[str, Any]] = []
        while url is not None and len(bodies) < MAX_PAGES:
            response = self._request("GET", url, resource=resource, params=params)
            bodies.append(_json(response))
            following = response.links.get("next", {}).get("url")
            url, params = (following, None) if following else (None, None)
        return bodies

    def _request(
        self,
        method: str,
        url: str,
        *,
        resource: str,
        action: str = "pull",
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        key = f"{resource}:{action}"
        response = self._send(method, url, self._auth_headers(key, headers), params)
        if response.status_code == 401:
            scheme, challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            if scheme == "basic" and self._auth is not None and not self._basic:
                self._basic = True
                response = self._send(method, url, self._auth_headers(key, headers), params)
            elif scheme == "bearer" and "realm" in challenge:
                scope = challenge.get("scope", "")
                self._scopes[key] = scope
                self._tokens[scope] = self._fetch_token(challenge)
                response = self._send(method, url, self._auth_headers(key, headers), params)
        _raise_for(response, method, url)
        return response

    def _auth_headers(self, key: str, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        scope = self._scopes.get(key)
        if scope is not None and scope in self._tokens:
            out["Authorization"] = f"Bearer {self._tokens[scope]}"
        elif self._basic and self._auth is not None:
            out["Authorization"] = _basic_header(self._auth)
        return out

    def _send(
        self, method: str, url: str, headers: dict[str, str], params: dict[str, Any] | None
    ) -> httpx.Response:
        try:
            return self._http.request(method, url, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(
                f"registry {self.base_url} did not answer {method} {url}: {exc}"
            ) from exc

    def _fetch_token(self, challenge: dict[str, str]) -> str:
        realm = challenge["realm"]
        if not realm.startswith(("https://", "http://")):
            raise RegistryRefused(f"registry {self.base_url} names an unusable token realm {realm!r}", 401)
        params = httpx.QueryParams({"service": challenge.get("service", "")})
        for scope in challenge.get("scope", "").split():
            params = params.add("scope", scope)
        auth = httpx.BasicAuth(self._auth.username, self._auth.password) if self._auth else None
        try:
            response = self._http.get(realm, params=params, auth=auth)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"token service {realm} did not answer: {exc}") from exc
        _raise_for(response, "GET", realm, what="token service")
        body = _json(response)
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryRefused(f"token service {realm} answered without a token", 401)
        return token


def _basic_header(auth: Credentials) -> str:
    pair = f"{auth.username}:{auth.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError as exc:
        raise RegistryRefused(f"registry answered {response.request.url} with invalid JSON", 502) from exc
    return body if isinstance(body, dict) else {}


def _raise_for(response: httpx.Response, method: str, url: str, *, what: str = "registry") -> None:
    status = response.status_code
    if status < 400:
        return
    code, message = "", response.reason_phrase
    try:
        errors = response.json().get("errors") or []
        if errors:
            code, message = str(errors[0].get("code", "")), str(errors[0].get("message", message))
    except (ValueError, AttributeError):
        pass
    text = " ".join(part for part in (f"{what} answered {method} {url} with {status}", code, message) if part)
    if status >= 500:
        raise RegistryUnavailable(text)
    if status == 401:
        text += " (check REGISTRY_USERNAME/REGISTRY_PASSWORD)"
    raise RegistryRefused(text, status, code)
