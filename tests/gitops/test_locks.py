"""Tests of per-mirror locks: exclusive vs shared, across threads, with a bounded wait."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from shera.gitops.errors import GitUnavailable
from shera.gitops.locks import MirrorLocks


def test_readers_share_and_a_writer_waits_for_them(tmp_path: Path) -> None:
    locks = MirrorLocks(timeout=5)
    path = tmp_path / "m.lock"
    events: list[str] = []

    def writer() -> None:
        with locks.exclusive(path):
            events.append("writer")

    with locks.shared(path), locks.shared(path):
        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.2)
        events.append("readers done")
    thread.join(timeout=5)
    assert events == ["readers done", "writer"]


def test_waiting_longer_than_the_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "m.lock"
    holder, waiter = MirrorLocks(timeout=5), MirrorLocks(timeout=0.2)
    with holder.exclusive(path):
        started = time.monotonic()
        with pytest.raises(GitUnavailable, match="waiting for the lock"), waiter.shared(path):
            pass
        with pytest.raises(GitUnavailable, match="waiting for the lock"), waiter.exclusive(path):
            pass
        assert time.monotonic() - started < 2
    with waiter.exclusive(path):
        pass
