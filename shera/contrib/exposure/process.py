"""Contrib layer (exposure): the safe-apply procedure shared by the nginx and haproxy process adapters.

``ManagedBalancer`` keeps one balancer process and its live config file under a state directory and
implements ``apply``: write the candidate beside the live file, validate it with the balancer's own checker
(and check that a new listen address is free), keep a copy of the live file, swap the candidate in with
``os.replace`` (atomic), signal a graceful reload, then poll the status endpoint until it answers the
candidate's version. A rejected candidate never touches the live file (it is kept as ``<live>.rejected``
for inspection); a reload that is not verified within ``verify_timeout`` (or that the balancer logs as
failed) restores the copy and reloads again. Subclasses supply the process specifics: how to
validate, launch, reload, and stop (always by pid), and which process a pid file names.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Collection
from pathlib import Path

from shera.contrib.exposure.apply import ApplyResult
from shera.contrib.exposure.errors import BalancerUnavailable
from shera.contrib.exposure.probe import children, pid_alive, status_version
from shera.contrib.exposure.render import Rendered, parse_header

POLL = 0.01
CONFIRMATIONS = 3


class ManagedBalancer(ABC):
    """A balancer process for ``zone`` with its config under ``state_dir``; see the module docstring.

    ``listen`` is the address of the empty config served by ``start`` before any apply; afterwards the
    live config's own address counts (``url``, ``served_version``).
    """

    kind = "balancer"
    config_name = "balancer.conf"
    failure_marker = "\0"  # a line of the process's log that says a reload failed
    failure_detail = "\0"  # lines quoted in the report when it did

    def __init__(
        self, state_dir: Path, *, zone: str, listen: str, binary: str, verify_timeout: float = 5.0
    ) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.zone = zone
        self.listen = listen
        self.binary = binary
        self.verify_timeout = verify_timeout
        self.live = self.state_dir / self.config_name
        self.candidate = self.live.with_name(self.config_name + ".candidate")
        self.previous = self.live.with_name(self.config_name + ".previous")
        self.rejected = self.live.with_name(self.config_name + ".rejected")
        self.log_path = self.state_dir / f"{self.kind}.log"
        self.pid_file = self.state_dir / f"{self.kind}.pid"
        self.failure_log = self.log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()

    # -- what a subclass provides ------------------------------------------------------------------

    @abstractmethod
    def initial(self) -> Rendered:
        """The config to serve when the state directory has none yet (no sites)."""

    @abstractmethod
    def validate(self, path: Path) -> str | None:
        """``None`` when the balancer accepts the config file at ``path``, else its complaint."""

    @abstractmethod
    def launch_argv(self) -> list[str]:
        """The command line that runs the balancer in the foreground on the live file."""

    @abstractmethod
    def reload(self, pid: int) -> None:
        """Ask the running process ``pid`` to reload the live file gracefully."""

    @abstractmethod
    def stop_signal(self) -> signal.Signals:
        """The signal that makes the process finish what it serves and exit."""

    def workers(self, pid: int) -> set[int]:
        """The worker processes of the master ``pid`` now."""
        return children(pid)

    def retired(self, pid: int) -> bool:
        """Whether the old worker ``pid`` has stopped accepting connections (default: assume so)."""
        return True

    # -- helpers for subclasses --------------------------------------------------------------------

    def _binary(self) -> str:
        """The balancer's executable; ``BalancerUnavailable`` when it is not installed."""
        found = shutil.which(self.binary)
        if found is None:
            raise BalancerUnavailable(
                f"{self.kind} is not installed ({self.binary} not found; apt-get install {self.kind})"
            )
        return found

    def _check(self, argv: list[str], path: Path) -> str | None:
        """Runs the config check ``argv`` on ``path``: ``None`` when it passes, else what it said (the file
        named by its name only)."""
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode == 0:
            return None
        output = (done.stderr + done.stdout).strip().replace(str(path), path.name)
        return output or f"{self.kind} exited with {done.returncode} and no message"

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        """Sends ``sig`` to ``pid``; ``BalancerUnavailable`` when that process is gone."""
        try:
            os.kill(pid, sig)
        except ProcessLookupError as exc:
            raise BalancerUnavailable(f"{self.kind} (pid {pid}) is gone") from exc

    # -- the Balancer protocol ---------------------------------------------------------------------

    def current_version(self) -> str | None:
        try:
            header = parse_header(self.live.read_text())
        except OSError:
            return None
        return header.version if header else None

    def served_version(self) -> str | None:
        listen = self._live_listen()
        return status_version(listen) if listen else None

    @property
    def url(self) -> str | None:
        """``http://IP:PORT`` of the live config's plain listener."""
        listen = self._live_listen()
        return f"http://{listen}" if listen else None

    def pid(self) -> int | None:
        """The pid of the running balancer (ours or one adopted from the pid file), ``None`` if none runs."""
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid, str(self.live)) else None

    def start(self) -> None:
        with self._lock:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            if self.pid() is not None:
                return
            if self.current_version() is None:
                first = self.initial()
                problem = self._write_and_validate(first)
                if problem:
                    raise BalancerUnavailable(f"{self.kind}: the empty config is rejected: {problem}")
                os.replace(self.candidate, self.live)
            self._launch()

    def stop(self, grace: float = 10.0) -> None:
        with self._lock:
            pid = self.pid()
            if pid is None:
                self._reap()
                return
            needle = str(self.live)
            for sig, wait in ((self.stop_signal(), grace), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline:
                    if self._exited(pid, needle):
                        self._process = None
                        return
                    time.sleep(POLL)
            raise BalancerUnavailable(f"{self.kind} (pid {pid}) did not stop")

    def apply(self, rendered: Rendered) -> ApplyResult:
        started = time.monotonic()
        with self._lock:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            old = self.current_version()
            pid = self.pid()
            if rendered.version == old and pid is not None:
                return self._result(True, old, "unchanged: not reloaded", False, rendered, started)
            problem = self._write_and_validate(rendered) or self._listen_problem(rendered.listen)
            if problem:
                os.replace(self.candidate, self.rejected)
                message = f"{self.kind} rejected config {rendered.version}; still serving {old}: {problem}"
                return self._result(False, old, message, False, rendered, started)
            had_live = self.live.exists()
            if had_live:
                self.previous.write_bytes(self.live.read_bytes())
            os.replace(self.candidate, self.live)
            try:
                if pid is None:
                    self._launch()
                else:
                    workers, mark = self.workers(pid), self._log_size()
                    self.reload(pid)
                    self._wait_version(rendered.version, rendered.listen, retiring=workers, mark=mark)
            except BalancerUnavailable as exc:
                return self._restore(rendered, old if had_live else None, f"{exc}", started)
            return self._result(True, rendered.version, "applied", True, rendered, started)

    # -- internals ---------------------------------------------------------------------------------

    def _live_listen(self) -> str | None:
        try:
            header = parse_header(self.live.read_text())
        except OSError:
            return None
        return header.listen if header else None

    def _listen_problem(self, listen: str) -> str | None:
        """Why the balancer could not listen on a new address ``listen`` (``None``: it can, or it already
        does). Checked before the swap: a reload that fails to bind can pause the old listener (haproxy
        retries the bind for seconds)."""
        if not listen or listen == self._live_listen():
            return None
        host, _, port = listen.rpartition(":")
        family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the balancers do
            try:
                probe.bind((host.strip("[]"), int(port)))
            except OSError as exc:
                return f"cannot listen on {listen}: {exc.strerror or exc}"
        return None

    def _write_and_validate(self, rendered: Rendered) -> str | None:
        with self.candidate.open("w") as out:
            out.write(rendered.text)
            out.flush()
            os.fsync(out.fileno())
        return self.validate(self.candidate)

    def _launch(self) -> None:
        """Run the balancer on the live file and wait until it serves the live version."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.launch_argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        version, listen = self.current_version(), self._live_listen()
        if version is None or listen is None:
            raise BalancerUnavailable(f"{self.kind}: the live config {self.live} has no She-Ra header")
        self._wait_version(version, listen)

    def _wait_version(
        self, version: str, listen: str, retiring: Collection[int] = (), mark: int | None = None
    ) -> None:
        """Poll the status endpoint until ``CONFIRMATIONS`` answers in a row are ``version`` and every worker
        of the previous generation (``retiring``) no longer accepts connections (right after a reload, old
        workers may still accept a few before they close their listeners). With ``mark`` (the size of the
        log before the reload), a failure the balancer logs after it ends the wait at once."""
        deadline = time.monotonic() + self.verify_timeout
        served: str | None = None
        in_a_row = 0
        while time.monotonic() < deadline:
            served = status_version(listen, timeout=max(0.2, min(1.0, deadline - time.monotonic())))
            in_a_row = in_a_row + 1 if served == version else 0
            if in_a_row >= CONFIRMATIONS and all(self.retired(pid) for pid in retiring):
                return
            failure = self._logged_failure(mark) if mark is not None and not in_a_row else None
            if failure:
                raise BalancerUnavailable(f"{self.kind} could not load it: {failure}")
            if self._process is not None and self._process.poll() is not None:
                raise BalancerUnavailable(
                    f"{self.kind} exited with {self._process.returncode}: {self._log_tail()}"
                )
            time.sleep(POLL)
        raise BalancerUnavailable(
            f"{self.kind} did not serve version {version} on {listen} within {self.verify_timeout:g} s "
            f"(it answers {served or 'nothing'}): {self._log_tail()}"
        )

    def _restore(self, rendered: Rendered, old: str | None, why: str, started: float) -> ApplyResult:
        if old is None:
            self.stop()
            self.live.unlink(missing_ok=True)
            return self._result(
                False, None, f"{self.kind} could not serve the first config: {why}", True, rendered, started
            )
        os.replace(self.previous, self.live)
        note = ""
        for _attempt in range(2):  # a reload signal sent while the last one is still running can be lost
            try:
                pid = self.pid()
                if pid is None:
                    self._launch()
                else:
                    self.reload(pid)
                    self._wait_version(old, self._live_listen() or rendered.listen)
                note = f"restored and serving {old}"
                break
            except BalancerUnavailable as exc:
                note = f"restored {old}, but it is not serving either: {exc}"
        message = f"{self.kind} config {rendered.version} was not served: {why}; {note}"
        return self._result(False, self.served_version(), message, True, rendered, started)

    def _result(
        self, ok: bool, version: str | None, message: str, reloaded: bool, rendered: Rendered, started: float
    ) -> ApplyResult:
        return ApplyResult(ok, version, message, reloaded, rendered.version, time.monotonic() - started)

    def _log_size(self) -> int:
        try:
            return self.failure_log.stat().st_size
        except OSError:
            return 0

    def _logged_failure(self, mark: int) -> str | None:
        try:
            with self.failure_log.open("rb") as log:
                log.seek(mark)
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            return None
        if not any(self.failure_marker in line for line in lines):
            return None
        return " ".join(line.strip() for line in lines if self.failure_detail in line)[-600:]

    def _exited(self, pid: int, needle: str) -> bool:
        """Whether ``pid`` is gone; our own child is reaped (waited for), not just seen as a zombie."""
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is not None
        return not pid_alive(pid, needle)

    def _reap(self) -> None:
        if self._process is not None:
            self._process.poll()

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-600:].strip()
        except OSError:
            return ""
