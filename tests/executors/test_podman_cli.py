"""Tests of the podman command-line adapter's error translation (with real processes, not podman)."""

from __future__ import annotations

import os
import time

import pytest

from shera.errors import BackendUnavailable, ExecutorError
from shera.executors.podman_cli import Completed, PodmanCli


def test_a_missing_binary_is_an_executor_error() -> None:
    with pytest.raises(ExecutorError, match="not installed"):
        PodmanCli(dict(os.environ), binary="shera-no-such-podman").call("info")


def test_exit_codes_and_output_are_returned_and_run_raises_with_the_message() -> None:
    cli = PodmanCli(dict(os.environ), binary="sh")
    done = cli.call("-c", "echo out; echo 'Error: it broke' >&2; exit 125")
    assert done == Completed(125, "out\n", "Error: it broke\n")
    assert done.message == "Error: it broke"
    with pytest.raises(ExecutorError, match="it broke"):
        cli.run("-c", "echo 'Error: it broke' >&2; exit 125")
    assert cli.run("-c", 'printf %s "$X"', extra_env={"X": "passed"}) == "passed"


def test_a_hanging_or_killed_process_is_backend_unavailable() -> None:
    cli = PodmanCli(dict(os.environ), binary="sh")
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="did not answer"):
        cli.call("-c", "sleep 30", timeout=0.3)
    assert time.monotonic() - started < 5
    with pytest.raises(BackendUnavailable, match="signal"):
        cli.call("-c", "kill -9 $$")


def test_stream_hands_bytes_to_the_sink_as_they_come() -> None:
    chunks: list[bytes] = []
    stream = PodmanCli(dict(os.environ), binary="sh").stream(
        "-c", "echo a; echo b >&2; exit 4", out=chunks.append
    )
    assert stream.wait(10) == 4
    assert b"".join(chunks) == b"a\nb\n"
    assert all(isinstance(chunk, bytes) for chunk in chunks)
