"""Deploy adapter (kubernetes): the API client boundary — server-side apply, reads, patches, deletes.

This is the only She-Ra module that imports the ``kubernetes`` client. It speaks JSON dicts in and out,
through the official client's ``ApiClient`` (kubeconfig, TLS, tokens, proxies) but without its typed models,
so a manifest reaches the server exactly as rendered (typed models would re-validate and re-serialize it).

Contracts:
- ``apply`` is server-side apply: ``PATCH`` with ``Content-Type: application/apply-patch+yaml``,
  ``fieldManager=shera``, ``force=true``. She-Ra owns every field it sets; fields a newer manifest no
  longer sets are removed by the server (that is why rollback re-applies whole manifests and why ``scale``
  uses a merge patch: an apply of a partial object would drop every other field She-Ra owns).
- Fallback, ONLY when the server answers 415 (Unsupported Media Type) or 405 to the apply patch, i.e. it
  does not implement server-side apply: create the object, or merge-patch (RFC 7386) it when it exists. A
  merge patch cannot remove a field the new manifest dropped; that is the fallback's known limit.
- Errors: the server refusing (409 conflict, 422 invalid, other 4xx) → ``PermanentError`` carrying the
  server's message; 429 and 5xx → ``TemporaryError``; no answer (connection refused, reset, TLS) →
  ``BackendUnavailable``. ``get`` answers None for 404, ``delete`` False.
- Thread safety: one ``KubeApi`` may be used from several threads (urllib3's pool is thread-safe).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException

from shera.errors import BackendUnavailable, ConfigError, PermanentError, TemporaryError

FIELD_MANAGER = "shera"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
NO_APPLY = frozenset({405, 415})
"""Statuses meaning "this server does not do server-side apply"; the only trigger of the fallback."""


@dataclass(frozen=True, slots=True)
class Kind:
    api: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str | None = None) -> str:
        scope = f"/namespaces/{namespace}" if self.namespaced else ""
        return f"{self.api}{scope}/{self.plural}" + (f"/{name}" if name else "")


KINDS: dict[str, Kind] = {
    "Namespace": Kind("/api/v1", "namespaces", namespaced=False),
    "Secret": Kind("/api/v1", "secrets"),
    "PersistentVolumeClaim": Kind("/api/v1", "persistentvolumeclaims"),
    "Service": Kind("/api/v1", "services"),
    "Pod": Kind("/api/v1", "pods"),
    "Deployment": Kind("/apis/apps/v1", "deployments"),
}


class KubeApi:
    """JSON access to the handful of kinds She-Ra deploys, through an official-client ``ApiClient``."""

    def __init__(self, api_client: Any, *, timeout: float = 30.0) -> None:
        self._client = api_client
        self._timeout = timeout

    @classmethod
    def connect(cls, kubeconfig: str | Path | None = None, *, context: str | None = None) -> KubeApi:
        """From a kubeconfig file; without one, in-cluster credentials inside a Pod, else $KUBECONFIG or
        ~/.kube/config. Never writes the kubeconfig back (refreshed tokens stay in memory)."""
        try:
            if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                configuration = Configuration()  # never the process-wide default configuration
                kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                return cls(ApiClient(configuration))
            path = None if kubeconfig is None else str(kubeconfig)
            client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                path, context=context, persist_config=False
            )
            return cls(client)
        except (kube_config.ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
            where = kubeconfig if kubeconfig is not None else "$KUBECONFIG or ~/.kube/config"
            raise ConfigError(f"cannot load the Kubernetes configuration {where}: {exc}") from exc

    def close(self) -> None:
        self._client.close()

    def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply of one object (see the module docstring for the fallback)."""
        kind, namespace, name = _identify(manifest)
        what = f"apply of {manifest['kind']} {_where(namespace, name)}"
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        status, data = self._call("PATCH", kind.path(namespace, name), what, query, manifest, APPLY_PATCH)
        if status in NO_APPLY:
            return self._create_or_merge(kind, namespace, name, manifest, what)
        return _checked(status, data, what)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        what = f"read of {kind} {_where(namespace, name)}"
        status, data = self._call("GET", KINDS[kind].path(namespace, name), what)
        return None if status == 404 else _checked(status, data, what)

    def select(self, kind: str, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Objects carrying every label in ``labels``. The selector is sent to the server and also applied
        here, so a server (or emulator) that ignores ``labelSelector`` still gives the right answer."""
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        what = f"list of {kind} in {namespace} with {selector}"
        path = KINDS[kind].path(namespace)
        status, data = self._call("GET", path, what, [("labelSelector", selector)])
        if status == 404:
            return []
        items = _checked(status, data, what).get("items") or []
        return [item for item in items if _has_labels(item, labels)]

    def merge_patch(
        self, kind: str, namespace: str | None, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        what = f"patch of {kind} {_where(namespace, name)}"
        query = [("fieldManager", FIELD_MANAGER)]
        status, data = self._call("PATCH", KINDS[kind].path(namespace, name), what, query, patch, MERGE_PATCH)
        if status == 404:
            raise PermanentError(f"{kind} {_where(namespace, name)} does not exist")
        return _checked(status, data, what)

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete (background propagation); False when there was nothing to delete."""
        what = f"delete of {kind} {_where(namespace, name)}"
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        path = KINDS[kind].path(namespace, name)
        status, data = self._call("DELETE", path, what, body=body, content_type="application/json")
        if status == 404:
            return False
        _checked(status, data, what)
        return True

    def _create_or_merge(
        self, kind: Kind, namespace: str | None, name: str, manifest: Mapping[str, Any], what: str
    ) -> dict[str, Any]:
        status, data = self._call("GET", kind.path(namespace, name), what)
        if status == 404:
            path = kind.path(namespace)
            status, data = self._call(
                "POST", path, what, [("fieldManager", FIELD_MANAGER)], manifest, "application/json"
            )
            return _checked(status, data, what)
        _checked(status, data, what)
        query = [("fieldManager", FIELD_MANAGER)]
        status, data = self._call("PATCH", kind.path(namespace, name), what, query, manifest, MERGE_PATCH)
        return _checked(status, data, what)

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        query: Iterable[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP exchange; returns (status, body) for any answer, raises only when there is none."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            request = self._client.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._client.call_api(*request, _request_timeout=self._timeout)
            data = response.read()
        except ApiException as exc:  # raised by the client only when no HTTP answer came (TLS, status 0)
            raise BackendUnavailable(f"Kubernetes API did not answer the {what}: {exc.reason}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise BackendUnavailable(f"Kubernetes API did not answer the {what}: {exc}") from exc
        return int(response.status), bytes(data or b"")


def _checked(status: int, data: bytes, what: str) -> dict[str, Any]:
    if 200 <= status < 300:
        return _json(data)
    message = _server_message(data)
    text = f"Kubernetes refused the {what}: {message} (HTTP {status})"
    if status == 429 or status >= 500:
        raise TemporaryError(text.replace("refused", "failed", 1))
    raise PermanentError(text)


def _json(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise TemporaryError(f"Kubernetes API answered something that is not JSON: {data[:200]!r}") from exc
    return value if isinstance(value, dict) else {"value": value}


def _server_message(data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace").strip()[:500] or "no message"
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(body)[:500]


def _identify(manifest: Mapping[str, Any]) -> tuple[Kind, str | None, str]:
    kind = KINDS.get(str(manifest.get("kind")))
    metadata = manifest.get("metadata") or {}
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    if kind is None or not name or (kind.namespaced and not namespace):
        raise PermanentError(
            f"cannot apply manifest of kind {manifest.get('kind')!r} named {name!r}: She-Ra applies "
            f"{', '.join(sorted(KINDS))} with metadata.name (and metadata.namespace when namespaced)"
        )
    return kind, namespace if kind.namespaced else None, str(name)


def _has_labels(item: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    have = (item.get("metadata") or {}).get("labels") or {}
    return all(have.get(key) == value for key, value in labels.items())


def _where(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name
