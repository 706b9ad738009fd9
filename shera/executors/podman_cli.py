"""Executors layer: the podman command line through ``sh`` — the only module that touches ``sh`` for podman.

Every call is an argv list (never a shell string), runs with the environment given at construction (She-Ra's
private podman configuration) in its own session, so a Ctrl-C in the terminal reaches She-Ra only and
teardown can still talk to podman. ``sh`` errors are translated here: podman reporting an error is an
``ExecutorError``; podman missing is an ``ExecutorError``; podman hanging or dying from a signal is
``BackendUnavailable``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sh

from shera.errors import BackendUnavailable, ExecutorError
from shera.executors.base import OutputSink

CALL_TIMEOUT_S = 300.0
_ANY_EXIT = tuple(range(256))


@dataclass(frozen=True, slots=True)
class Completed:
    """The outcome of one podman call that was allowed to fail."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        """Podman's own error text (its last ``Error:`` line when there is one)."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("Error:")]
        return (errors or lines or [f"exit code {self.exit_code}"])[-1]


class _Writer:
    """File-like adapter: ``sh`` hands raw ``bytes`` to objects with ``write`` and no ``encoding``."""

    def __init__(self, out: OutputSink) -> None:
        self._out = out

    def write(self, chunk: bytes) -> None:
        self._out(chunk)


class Stream:
    """A podman process running in the background whose output goes to a sink as it arrives."""

    def __init__(self, running: Any, finished: threading.Event) -> None:
        self._running = running
        self.finished = finished

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code of the podman process, or ``None`` if it has not ended within ``timeout``."""
        if not self.finished.wait(timeout):
            return None
        try:
            self._running.wait()
        except sh.ErrorReturnCode as exc:
            return int(exc.exit_code)
        return int(self._running.exit_code)

    def stop(self) -> None:
        """Kill the podman client process (not the container); harmless when it has ended."""
        if not self.finished.is_set():
            with contextlib.suppress(ProcessLookupError):
                self._running.kill()


class PodmanCli:
    """Runs ``podman`` with a fixed environment; see the module docstring for error translation."""

    def __init__(self, env: Mapping[str, str], binary: str = "podman") -> None:
        self.env = dict(env)
        self.binary = binary
        self._command: Any = None

    def _podman(self) -> Any:
        if self._command is None:
            try:
                self._command = sh.Command(self.binary)
            except sh.CommandNotFound as exc:
                raise ExecutorError(
                    f"{self.binary!r} is not installed or not on PATH; install podman and runc"
                ) from exc
        return self._command

    def _options(self, extra_env: Mapping[str, str] | None) -> dict[str, Any]:
        env = self.env if not extra_env else {**self.env, **extra_env}
        return {"_env": env, "_tty_out": False, "_new_session": True, "_bg_exc": False}

    def call(
        self, *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = CALL_TIMEOUT_S
    ) -> Completed:
        """Run podman and return its outcome whatever the exit code (the caller judges it).

        The timeout is enforced here rather than with ``sh``'s ``_timeout``, which polls every 0.1 s and
        would add that much to every call.
        """
        finished = threading.Event()
        running = self._podman()(
            *args,
            _bg=True,
            _ok_code=_ANY_EXIT,
            _return_cmd=True,
            _done=lambda *_: finished.set(),
            **self._options(extra_env),
        )
        if not finished.wait(timeout):
            with contextlib.suppress(ProcessLookupError):
                running.kill()
            raise BackendUnavailable(f"podman {args[0]} did not answer within {timeout:.0f} s")
        try:
            running.wait()
        except sh.SignalException as exc:
            raise BackendUnavailable(f"podman {args[0]} was killed by a signal ({exc.exit_code})") from exc
        except sh.ErrorReturnCode as exc:  # pragma: no cover - every exit code is accepted above
            raise ExecutorError(f"podman {args[0]} failed: {exc}") from exc
        return Completed(
            int(running.exit_code),
            running.stdout.decode(errors="replace"),
            running.stderr.decode(errors="replace"),
        )

    def run(self, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
        """Run podman; its stdout, or ``ExecutorError`` carrying podman's message when it fails."""
        done = self.call(*args, extra_env=extra_env)
        if done.exit_code != 0:
            raise ExecutorError(f"podman {' '.join(args[:2])} failed: {done.message}")
        return done.stdout

    def stream(self, *args: str, out: OutputSink) -> Stream:
        """Start podman in the background; stdout and stderr go, merged, to ``out`` as they arrive."""
        finished = threading.Event()
        running = self._podman()(
            *args,
            _bg=True,
            _out=_Writer(out),
            _err_to_out=True,
            _out_bufsize=0,
            _ok_code=_ANY_EXIT,
            _done=lambda *_: finished.set(),
            **self._options(None),
        )
        return Stream(running, finished)
