"""Contrib layer (exposure): the safe-apply procedure shared by the nginx and haproxy process adapters.

``ManagedBalancer`` keeps one balancer process and its live config file under a state directory and
implements ``apply``: write the candidate beside the live file, validate it with the balancer's own checker,
keep a copy of the live file, swap the candidate in with ``os.replace`` (atomic), signal a graceful reload,
then poll the status endpoint until it answers the candidate's version. A rejected candidate never touches
the live file (it is kept as ``<live>.rejected`` for inspection); a reload that is not verified within
``verify_timeout`` restores the copy and reloads again. Subclasses supply the process specifics: how to
validate, launch, reload, and stop (always by pid), and which process a pid file names.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path

from shera.contrib.exposure.apply import ApplyResult
from shera.contrib.exposure.errors import BalancerUnavailable
from shera.contrib.exposure.render import STATUS_HOST, STATUS_PATH, Rendered, parse_header

POLL = 0.01
CONFIRMATIONS = 3


def status_version(listen: str, timeout: float = 1.0) -> str | None:
    """The version a balancer listening on ``listen`` (``IP:PORT``) answers at its status endpoint."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard listener is asked on loopback
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", STATUS_PATH, headers={"Host": STATUS_HOST, "Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace").strip()
        return body if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def pid_alive(pid: int, needle: str) -> bool:
    """``pid`` runs (not a zombie) and its command line contains ``needle`` (guards against pid reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X") and needle in cmdline


class ManagedBalancer(ABC):
    """A balancer process for ``zone`` with its config under ``state_dir``; see the module docstring.

    ``listen`` is the address of the empty config served by ``start`` before any apply; afterwards the
    live config's own address counts (``url``, ``served_version``).
    """

    kind = "balancer"
    config_name = "balancer.conf"

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
                    self._reap()
                    if not pid_alive(pid, needle):
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
            problem = self._write_and_validate(rendered)
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
                    self.reload(pid)
                    self._wait_version(rendered.version, rendered.listen)
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

    def _wait_version(self, version: str, listen: str) -> None:
        """Poll the status endpoint until ``CONFIRMATIONS`` answers in a row are ``version`` (right after a
        reload, old workers may still accept a connection or two before they close their listeners)."""
        deadline = time.monotonic() + self.verify_timeout
        served: str | None = None
        in_a_row = 0
        while time.monotonic() < deadline:
            served = status_version(listen, timeout=max(0.2, min(1.0, deadline - time.monotonic())))
            in_a_row = in_a_row + 1 if served == version else 0
            if in_a_row >= CONFIRMATIONS:
                return
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
            return self._result(False, None, f"{self.kind} could not serve the first config: {why}", True,
                                rendered, started)
        os.replace(self.previous, self.live)
        try:
            pid = self.pid()
            if pid is None:
                self._launch()
            else:
                self.reload(pid)
                self._wait_version(old, self._live_listen() or rendered.listen)
            note = f"restored and serving {old}"
        except BalancerUnavailable as exc:
            note = f"restored {old}, but it is not serving either: {exc}"
        message = f"{self.kind} config {rendered.version} was not served: {why}; {note}"
        return self._result(False, self.served_version(), message, True, rendered, started)

    def _result(
        self, ok: bool, version: str | None, message: str, reloaded: bool, rendered: Rendered, started: float
    ) -> ApplyResult:
        return ApplyResult(ok, version, message, reloaded, rendered.version, time.monotonic() - started)

    def _reap(self) -> None:
        if self._process is not None:
            self._process.poll()

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-600:].strip()
        except OSError:
            return ""
