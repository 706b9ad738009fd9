"""Adapters layer (build): She-Ra's own per-project image storage, and the lock that keeps it consistent.

Each project builds into ``<data_dir>/images/<project>/``: a private containers configuration (runc,
overlay driver, graphroot under that directory; written by ``podman_config.write_config``), never the
machine's default store. The store persists across runs, so ``buildah --layers`` finds the previous build's
layers and a one-file change rebuilds only what follows it.

Concurrency contract: every build+push of a project happens inside ``ImageStore.locked()``, an exclusive
``fcntl`` lock on ``<store>/lock``. Runs of one project therefore take turns (layer cache, tags and
temporary containers are never written by two buildah processes at once); runs of different projects use
different stores and do not wait for each other. The lock is released when the holder's process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from shera.build.errors import BuildInterrupted
from shera.executors.podman_config import ConfigPaths, write_config

_SAFE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_LOCK_POLL_S = 0.2


def store_name(project: str) -> str:
    """A directory name for ``project``: itself when it is a plain name, else a readable slug + hash."""
    if _SAFE.match(project):
        return project
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", project).strip(".-")[:40] or "project"
    return f"{slug}-{hashlib.sha256(project.encode()).hexdigest()[:12]}"


class ImageStore:
    """The image storage of one project; cheap to construct (nothing is written until ``prepare``)."""

    def __init__(self, data_dir: Path, project: str) -> None:
        self.root = data_dir / "images" / store_name(project)
        self.project = project

    def prepare(self, insecure: Iterable[str] = ()) -> ConfigPaths:
        """Write (idempotently) the store's configuration; ``insecure`` registries are reached over HTTP."""
        return write_config(self.root / "config", insecure=sorted(insecure))

    def env(self, insecure: Iterable[str] = (), base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for buildah/podman on this store: ``base`` (default ``os.environ``) with the
        store's ``CONTAINERS_*`` and ``REGISTRY_AUTH_FILE`` variables."""
        paths = self.prepare(insecure)
        return {**dict(os.environ if base is None else base), **paths.env}

    @contextmanager
    def locked(self, cancel: threading.Event | None = None, timeout: float | None = None) -> Iterator[None]:
        """Hold the store's exclusive lock; waits for another run of the project to finish first.

        Raises ``BuildInterrupted`` when ``cancel`` is set or ``timeout`` seconds pass while waiting.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if cancel is not None and cancel.is_set():
                        raise BuildInterrupted(
                            "cancelled", "cancelled while waiting for the image store"
                        ) from None
                    if deadline is not None and time.monotonic() >= deadline:
                        raise BuildInterrupted("timeout", "timed out waiting for the image store") from None
                    time.sleep(_LOCK_POLL_S)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextmanager
    def private_dir(self, prefix: str) -> Iterator[Path]:
        """A fresh directory only the current user can read (mode 0700), deleted on exit, for secret files
        and auth files of one build."""
        parent = self.root / "tmp"
        parent.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def write_private(directory: Path, name: str, data: str | bytes) -> Path:
    """Write ``data`` to ``directory/name`` created with mode 0600 (never readable by others)."""
    path = directory / name
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    return path
