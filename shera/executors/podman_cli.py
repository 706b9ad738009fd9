"""Executors layer: the podman command line through ``sh`` — the only module that touches ``sh`` for podman.

Every call is an argv list (never a shell string), runs with the environment given at construction (She-Ra's
private podman configuration) in its own session, so a Ctrl-C in the terminal reaches She-Ra only and
teardown can still talk to podman. ``sh`` errors are translated here: podman reporting an error is an
``ExecutorError``; podman missing is an ``ExecutorError``; podman hanging or dying from a signal is
``BackendUnavailable``.

Each process is waited for by a thread blocked in ``waitpid`` (``Stream``): ``sh``'s own ``_done`` and
``_timeout`` poll every 0.1 to 1 s, which would add up to a second to every podman call.
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
    """A podman process running in the background; ``finished`` is set the moment it has ended."""

    def __init__(self, running: Any) -> None:
        self._running = running
        self.finished = threading.Event()
        self.exit_code: int | None = None
        threading.Thread(target=self._reap, name="shera-podman-wait", daemon=True).start()

    def _reap(self) -> None:
        try:
            self._running.wait()
            self.exit_code = int(self._running.exit_code)
        except sh.ErrorReturnCode as exc:  # killed by a signal: a negative exit code
            self.exit_code = int(exc.exit_code)
        finally:
            self.finished.set()

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code of the podman process, or ``None`` if it has not ended within ``timeout``."""
        if not self.finished.wait(timeout):
            return None
        return self.exit_code

    def stop(self) -> None:
        """Kill the podman client process (not the container); harmless when it has ended."""
        if not self.finished.is_set():
            with contextlib.suppress(ProcessLookupError):
                self._running.kill()

    def output(self) -> tuple[str, str]:
        """Captured stdout and stderr (empty when they went to a sink)."""
        out, err = self._running.stdout, self._running.stderr
        return out.decode(errors="replace"), err.decode(errors="replace")


class PodmanCli:
    """Runs ``podman`` with a fixed environment; see the module docstring for error translation."""

    def __init__(self, env: Mapping[str, str], binary: str = "podman") -> None:
        self.env = dict(env)
        self.binary = binary
        self._command: Any = None

    def _spawn(self, args: tuple[str, ...], extra_env: Mapping[str, str] | None, **options: Any) -> Stream:
        if self._command is None:
            try:
                self._command = sh.Command(self.binary)
            except sh.CommandNotFound as exc:
                raise ExecutorError(
                    f"{self.binary!r} is not installed or not on PATH; install podman and runc"
                ) from exc
        env = self.env if not extra_env else {**self.env, **extra_env}
        try:
            running = self._command(
                *args,
                _env=env,
                _bg=True,
                _bg_exc=False,
                _return_cmd=True,
                _tty_out=False,
                _new_session=True,
                _ok_code=_ANY_EXIT,
                **options,
            )
        except OSError as exc:
            raise BackendUnavailable(f"podman could not be started: {exc}") from exc
        return Stream(running)

    def call(
        self, *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = CALL_TIMEOUT_S
    ) -> Completed:
        """Run podman and return its outcome whatever the exit code (the caller judges it)."""
        stream = self._spawn(args, extra_env)
        code = stream.wait(timeout)
        if code is None:
            stream.stop()
            raise BackendUnavailable(f"podman {args[0]} did not answer within {timeout:.0f} s")
        if code < 0:
            raise BackendUnavailable(f"podman {args[0]} was killed by signal {-code}")
        return Completed(code, *stream.output())

    def run(self, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
        """Run podman; its stdout, or ``ExecutorError`` carrying podman's message when it fails."""
        done = self.call(*args, extra_env=extra_env)
        if done.exit_code != 0:
            raise ExecutorError(f"podman {' '.join(args[:2])} failed: {done.message}")
        return done.stdout

    def stream(self, *args: str, out: OutputSink) -> Stream:
        """Start podman in the background; stdout and stderr go, merged, to ``out`` as they arrive."""
        return self._spawn(args, None, _out=_Writer(out), _err_to_out=True, _out_bufsize=0)
