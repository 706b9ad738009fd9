"""Deploy layer: what a release looks like in the deploy repository, and the repository port it is written to.

``release_files`` is pure and deterministic: one file per rendered object (``<name>.json``, sorted keys,
two-space indent; a string manifest is written as is) plus ``release.json`` (revision, image, digest, sha,
run, status, and the file → object name index that ``recorded_manifests`` reads back). The repository
itself is ``shera.gitops.deployrepo.DeployRepo`` (this layer may not import gitops: callers pass it in).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

from shera.model.records import ReleaseRecord

RELEASE_FILE = "release.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class CommitResult(Protocol):
    @property
    def sha(self) -> str: ...

    @property
    def push_error(self) -> str | None: ...


class Recorder(Protocol):
    """The deploy repository as the deploy service uses it (see ``shera.gitops.deployrepo``)."""

    def commit(
        self, app: str, environment: str, files: Mapping[str, bytes], message: str
    ) -> CommitResult: ...

    def remove(self, app: str, environment: str, message: str) -> CommitResult: ...

    def files(self, app: str, environment: str, rev: str | None = None) -> dict[str, bytes]: ...


def _dump(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def file_name(key: str, value: Any) -> str:
    """The file an object named ``key`` is stored in (path separators and odd characters become ``-``)."""
    base = _UNSAFE.sub("-", key).strip("-.") or "object"
    if isinstance(value, str) and base.endswith((".yaml", ".yml", ".json")):
        return base
    return f"{base}.json"


def release_files(release: ReleaseRecord) -> dict[str, bytes]:
    """The files of ``apps/<app>/<environment>/`` for ``release`` (its manifests and ``release.json``)."""
    files: dict[str, bytes] = {}
    index: dict[str, str] = {}
    for key in sorted(release.manifests):
        value = release.manifests[key]
        name = file_name(key, value)
        while name in files or name == RELEASE_FILE:
            name = f"_{name}"
        files[name] = value.encode() if isinstance(value, str) else _dump(value)
        index[name] = key
    files[RELEASE_FILE] = _dump(
        {
            "app": release.app,
            "environment": release.environment,
            "revision": release.revision,
            "target": release.target,
            "image": release.image,
            "digest": release.digest,
            "sha": release.sha,
            "run": release.run_id,
            "status": release.status,
            "replicas": release.replicas,
            "rollback_of": release.rollback_of,
            "files": index,
        }
    )
    return files


def commit_message(release: ReleaseRecord, verb: str = "release") -> str:
    """``<app>/<env>: <verb> <revision> (<status>)`` and the run, sha and digest it came from."""
    what = f"{verb} {release.revision}"
    if release.rollback_of is not None:
        what += f" (rollback to {release.rollback_of})"
    return (
        f"{release.app}/{release.environment}: {what} {release.status}\n\n"
        f"run: {release.run_id or '-'}\nsha: {release.sha or '-'}\ndigest: {release.digest or '-'}\n"
        f"image: {release.image}\n"
    )


def recorded_state(files: Mapping[str, bytes]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(release.json, manifests by object name)`` read back from a release's files; empty when absent."""
    raw = files.get(RELEASE_FILE)
    if raw is None:
        return {}, {}
    info: dict[str, Any] = json.loads(raw)
    manifests: dict[str, Any] = {}
    for name, key in dict(info.get("files", {})).items():
        content = files.get(name)
        if content is None:
            continue
        manifests[key] = json.loads(content) if name.endswith(".json") else content.decode()
    return info, manifests
