"""Adapters layer (gitops): per-mirror locks that hold across threads and processes of one machine.

A mirror has one lock file beside it (``<name>.lock``). Writers (fetch) take an exclusive
``fcntl.flock`` on it, readers (a clone into a workspace, ``diff-tree``) a shared one. ``flock`` locks
belong to an open file description, so each acquisition opens the file anew and threads of one
process exclude each other exactly like processes do; writers of one process also queue on a thread
lock first so that they wait without polling. Locks are never nested by callers (a thread holding one
lock of a mirror must not ask for another of the same mirror: that would wait for itself).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shera.gitops.errors import GitUnavailable

_FIRST_POLL = 0.005
_MAX_POLL = 0.1


class MirrorLocks:
    """Exclusive and shared locks on lock files; waiting longer than ``timeout`` raises ``GitUnavailable``."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._guard = threading.Lock()
        self._writers: dict[Path, threading.Lock] = {}

    def _writer_lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._writers.setdefault(path, threading.Lock())

    @contextmanager
    def exclusive(self, path: Path) -> Iterator[None]:
        """Hold ``path`` exclusively (no other writer or reader, in any process) for the block."""
        writer = self._writer_lock(path)
        if not writer.acquire(timeout=self._timeout):
            raise GitUnavailable(f"timed out after {self._timeout:g} s waiting for the lock {path.name}")
        try:
            with self._flock(path, fcntl.LOCK_EX):
                yield
        finally:
            writer.release()

    @contextmanager
    def shared(self, path: Path) -> Iterator[None]:
        """Hold ``path`` shared (other readers may, no writer can) for the block."""
        with self._flock(path, fcntl.LOCK_SH):
            yield

    @contextmanager
    def _flock(self, path: Path, mode: int) -> Iterator[None]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + self._timeout
            pause = _FIRST_POLL
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise GitUnavailable(
                            f"timed out after {self._timeout:g} s waiting for the lock {path.name}"
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, _MAX_POLL)
            yield
        finally:
            os.close(fd)
