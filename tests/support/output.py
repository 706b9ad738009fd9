"""Test support: an ``OutputSink`` that keeps what a step or target wrote (thread-safe, bytes only)."""

from __future__ import annotations

import threading


class Sink:
    """Collects output chunks (thread-safe); ``text`` is all of them decoded."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.lock = threading.Lock()

    def __call__(self, chunk: bytes) -> None:
        assert isinstance(chunk, bytes)
        with self.lock:
            self.chunks.append(chunk)

    @property
    def text(self) -> str:
        with self.lock:
            return b"".join(self.chunks).decode()
