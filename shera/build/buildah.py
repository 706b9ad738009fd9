"""Adapters layer (build): the buildah command line through ``sh`` — the only module that runs buildah.

Every call is an argv list (never a shell string) run with the environment given at construction (an
``ImageStore``'s private configuration), in its own session so cancelling kills buildah and everything it
started. ``sh`` errors never leave this module: a failed build is ``BuildFailed``; a push the registry
refused is ``PushRejected``; a registry that cannot be reached or answers 5xx is retried with exponential
backoff and then ``RegistryUnavailable``; cancel or timeout is ``BuildInterrupted``.

Builds always use ``--isolation chroot`` (crun cannot run here, and chroot needs no OCI runtime) and
``--layers`` unless told otherwise. Build secrets are files handed to ``--secret id=ID,src=FILE``: buildah
mounts them for ``RUN --mount=type=secret`` only, so they reach neither a layer nor the history. Plain HTTP
(``--tls-verify=false``) is used only for registries named in ``insecure``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sh

from shera.build.errors import BuildFailed, BuildInterrupted, PushRejected, RegistryUnavailable
from shera.executors.base import OutputSink

_ANY_EXIT = tuple(range(256))
_POLL_S = 0.1
_KILL_GRACE_S = 5.0
MAX_BACKOFF_S = 30.0

# buildah's wording for failures that may pass on their own: network trouble and 5xx answers.
_TRANSIENT = re.compile(
    r"connection refused|connection reset|no route to host|i/o timeout|timeout exceeded|"
    r"tls handshake timeout|unexpected eof|\bEOF\b|no such host|server misbehaving|"
    r"\b5\d\d\b (internal server error|bad gateway|service unavailable|gateway timeout)|"
    r"(status|code)\W{0,3}5\d\d\b|status code from registry 5\d\d|too many requests|\b429\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """A built image: its id in the store (``sha256:...``) and the local tags it got."""

    image_id: str
    tags: tuple[str, ...] = ()


class _Writer:
    """File-like adapter: ``sh`` hands raw ``bytes`` to objects with ``write``; also keeps the tail."""

    def __init__(self, out: OutputSink) -> None:
        self._out = out
        self.tail = b""

    def write(self, chunk: bytes) -> None:
        self.tail = (self.tail + chunk)[-8192:]
        self._out(chunk)


def _host_of(ref: str) -> str:
    """The registry host (``host[:port]``) of an image reference ``host/path:tag``."""
    return ref.split("/", 1)[0]


def _last_error(tail: bytes) -> str:
    lines = [line.strip() for line in tail.decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith(("error", "level=error"))]
    return (errors or lines or ["no output"])[-1]


class Buildah:
    """Runs buildah with a fixed environment; safe to use from several threads (each call is a process)."""

    def __init__(
        self, env: Mapping[str, str], *, insecure: frozenset[str] = frozenset(), binary: str = "buildah"
    ):
        self.env = dict(env)
        self.insecure = insecure
        self.binary = binary

    def _command(self) -> Any:
        try:
            return sh.Command(self.binary)
        except sh.CommandNotFound as exc:
            raise BuildFailed(
                f"{self.binary!r} is not installed or not on PATH (apt-get install buildah)"
            ) from exc

    def _run(
        self, args: Sequence[str], writer: _Writer, cancel: threading.Event | None, deadline: float | None
    ) -> int:
        """Run buildah to the end; its exit code. On cancel or deadline: killed, ``BuildInterrupted``."""
        try:
            running = self._command()(
                *args,
                _env=self.env,
                _bg=True,
                _bg_exc=False,
                _return_cmd=True,
                _tty_out=False,
                _new_session=True,
                _ok_code=_ANY_EXIT,
                _out=writer,
                _err_to_out=True,
                _out_bufsize=0,
            )
        except OSError as exc:
            raise BuildFailed(f"buildah could not be started: {exc}") from exc
        done = threading.Event()
        codes: list[int] = []

        def reap() -> None:
            try:
                running.wait()
                codes.append(int(running.exit_code))
            except sh.ErrorReturnCode as exc:  # killed by a signal
                codes.append(int(exc.exit_code))
            finally:
                done.set()

        threading.Thread(target=reap, name="shera-buildah-wait", daemon=True).start()
        while not done.wait(_POLL_S):
            reason = None
            if cancel is not None and cancel.is_set():
                reason = "cancelled"
            elif deadline is not None and time.monotonic() >= deadline:
                reason = "timeout"
            if reason is not None:
                self._kill(running, done)
                raise BuildInterrupted(reason, f"buildah {args[0]} {reason}")
        return codes[0] if codes else -1

    @staticmethod
    def _kill(running: Any, done: threading.Event) -> None:
        pgid = running.process.pid  # the session leader: its pid is the process group id
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        if not done.wait(_KILL_GRACE_S):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            done.wait(_KILL_GRACE_S)

    def build(
        self,
        context: Path,
        containerfile: Path,
        *,
        tags: Sequence[str],
        iidfile: Path,
        target: str | None = None,
        build_args: Mapping[str, str] | None = None,
        secrets: Mapping[str, Path | str] | None = None,
        labels: Mapping[str, str] | None = None,
        layers: bool = True,
        cache_from: str | None = None,
        cache_to: str | None = None,
        authfile: Path | None = None,
        out: OutputSink,
        cancel: threading.Event | None = None,
        timeout: float | None = None,
    ) -> BuiltImage:
        """Build ``containerfile`` with ``context``; buildah's output goes to ``out`` as it comes.

        ``secrets`` maps a secret id to a file (mode 0600, the caller deletes it). ``iidfile`` is where
        buildah writes the image id (a path in a private directory of the caller).
        """
        args = ["build", "--isolation", "chroot", f"--layers={'true' if layers else 'false'}"]
        args += ["--iidfile", str(iidfile), "-f", str(containerfile)]
        for tag in tags:
            args += ["-t", tag]
        if target:
            args += ["--target", target]
        for name, value in (build_args or {}).items():
            args += ["--build-arg", f"{name}={value}"]
        for name, value in (labels or {}).items():
            args += ["--label", f"{name}={value}"]
        for secret_id, path in (secrets or {}).items():
            args += ["--secret", f"id={secret_id},src={path}"]
        if cache_from:
            args += ["--cache-from", cache_from]
        if cache_to:
            args += ["--cache-to", cache_to]
        if authfile is not None:
            args += ["--authfile", str(authfile)]
        args.append(str(context))
        deadline = None if timeout is None else time.monotonic() + timeout
        writer = _Writer(out)
        code = self._run(args, writer, cancel, deadline)
        if code != 0:
            raise BuildFailed(f"buildah build failed (exit code {code}): {_last_error(writer.tail)}")
        try:
            image_id = iidfile.read_text().strip()
        except OSError as exc:
            raise BuildFailed(f"buildah build wrote no image id: {exc}") from exc
        return BuiltImage(image_id=image_id, tags=tuple(tags))

    def import_rootfs(
        self,
        rootfs: Path,
        tag: str,
        *,
        cmd: Sequence[str] = (),
        labels: Mapping[str, str] | None = None,
        out: OutputSink,
    ) -> str:
        """A base image from a root file system tarball (what ``debootstrap``/``mmdebstrap`` make): the image
        id of ``tag``. For platforms that cannot pull base images from a public registry."""
        if not rootfs.is_file():
            raise BuildFailed(f"root file system {rootfs} is not a file")
        writer = _Writer(out)
        if self._run(["from", "--name", f"shera-import-{os.getpid()}", "scratch"], writer, None, None) != 0:
            raise BuildFailed(f"buildah from scratch failed: {_last_error(writer.tail)}")
        container = f"shera-import-{os.getpid()}"
        try:
            steps: list[list[str]] = [["add", container, str(rootfs), "/"]]
            config = ["config"]
            if cmd:
                config += ["--cmd", json.dumps(list(cmd))]
            for key, value in sorted((labels or {}).items()):
                config += ["--label", f"{key}={value}"]
            if len(config) > 1:
                steps.append([*config, container])
            steps.append(["commit", "--rm", container, tag])
            for args in steps:
                writer = _Writer(out)
                if self._run(args, writer, None, None) != 0:
                    raise BuildFailed(f"buildah {args[0]} failed: {_last_error(writer.tail)}")
        finally:
            cleanup = _Writer(lambda _chunk: None)
            self._run(["rm", container], cleanup, None, None)
        return tag

    def push(
        self,
        image: str,
        ref: str,
        *,
        digestfile: Path,
        out: OutputSink,
        retries: int = 3,
        backoff: float = 1.0,
        authfile: Path | None = None,
        cancel: threading.Event | None = None,
        timeout: float | None = None,
    ) -> str:
        """Push ``image`` (id or local name) to ``ref`` (``host/path:tag``); the manifest digest pushed.

        Connection errors and 5xx answers are retried ``retries`` times, waiting ``backoff`` seconds, then
        twice as long each time (at most ``MAX_BACKOFF_S``); other failures are not retried.
        """
        # buildah's own retries (on by default, 2 s apart) are made instant: this loop decides what to retry.
        args = ["push", "--retry", "0", "--retry-delay", "10ms", "--digestfile", str(digestfile)]
        if _host_of(ref) in self.insecure:
            args.append("--tls-verify=false")
        if authfile is not None:
            args += ["--authfile", str(authfile)]
        args += [image, f"docker://{ref}"]
        deadline = None if timeout is None else time.monotonic() + timeout
        attempts = retries + 1
        for attempt in range(1, attempts + 1):
            writer = _Writer(out)
            code = self._run(args, writer, cancel, deadline)
            if code == 0:
                try:
                    return digestfile.read_text().strip()
                except OSError as exc:
                    raise PushRejected(f"push of {ref} wrote no digest: {exc}") from exc
            reason = _last_error(writer.tail)
            if not _TRANSIENT.search(writer.tail.decode(errors="replace")):
                raise PushRejected(f"push to {ref} was refused: {reason}")
            if attempt == attempts:
                raise RegistryUnavailable(
                    f"push to {ref} failed after {attempts} attempt(s): registry {_host_of(ref)} "
                    f"unavailable: {reason}"
                )
            delay = min(backoff * 2 ** (attempt - 1), MAX_BACKOFF_S)
            out(f"push attempt {attempt}/{attempts} failed ({reason}); retrying in {delay:g} s\n".encode())
            if cancel is not None and cancel.wait(delay):
                raise BuildInterrupted("cancelled", f"push of {ref} cancelled")
            if cancel is None:
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
