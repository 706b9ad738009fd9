"""Executors layer: the ``local`` executor — each step a ``/bin/sh`` process group on this machine.

A ``commands`` step runs ``/bin/sh -c <shell_script(commands)>`` in the workflow's workspace (plus the
step's ``directory``, which must stay inside it) with exactly the environment it is given (``PATH`` and
``HOME`` are taken from this process when absent). Each step gets its own session, hence its own process
group: stdout and stderr share one pipe that is forwarded to ``out`` as bytes arrive.

Ending a step means ending its group: ``SIGTERM``, then ``SIGKILL`` after ``kill_grace`` seconds. This
happens on timeout and cancel (the result is then ``killed``/137) and also when the shell exits but left
processes behind, so nothing a step started outlives it. Services and detached steps are background
groups with a reader thread each, ended the same way by ``teardown``. Plugin steps need an image and
cannot run here: their result is a failure that says so.

Waiting costs nothing per step: the exit is watched with a pidfd in the same ``select`` that reads the
output (cancel is checked every ``CANCEL_CHECK_S`` only when a cancel event is given).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from shera.errors import ExecutorError
from shera.executors.base import KILLED_EXIT_CODE, OutputSink, StepResult, WorkflowContext, shell_script
from shera.executors.workdir import NOT_STARTED_EXIT_CODE, host_workdir
from shera.model.plan import StepPlan
from shera.model.status import Status

CHUNK = 65536
CANCEL_CHECK_S = 0.05
DRAIN_LIMIT_S = 2.0
_GROUP_POLL_S = 0.01


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies do not count: orphans may never be reaped)."""
    if not _signal_group(pgid, 0):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def end_group(pgid: int, grace: float) -> None:
    """``SIGTERM`` the group, wait up to ``grace`` seconds for it to go, then ``SIGKILL`` what is left."""
    if not group_alive(pgid) or not _signal_group(pgid, signal.SIGTERM):
        return
    give_up = time.monotonic() + grace
    while time.monotonic() < give_up:
        if not group_alive(pgid):
            return
        time.sleep(_GROUP_POLL_S)
    _signal_group(pgid, signal.SIGKILL)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _out_fd(proc: subprocess.Popen[bytes]) -> int:
    if proc.stdout is None:  # pragma: no cover - _spawn always asks for a pipe
        raise ExecutorError("the step's output pipe is missing")
    return proc.stdout.fileno()


def _drain(fd: int, out: OutputSink) -> None:
    """Forward what is left in the pipe; stops at EOF or when nobody writes for ``DRAIN_LIMIT_S``."""
    give_up = time.monotonic() + DRAIN_LIMIT_S
    while (left := give_up - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            return
        chunk = os.read(fd, CHUNK)
        if not chunk:
            return
        out(chunk)


class _Service:
    """A background process group whose output a daemon thread forwards until EOF."""

    def __init__(self, proc: subprocess.Popen[bytes], out: OutputSink, name: str) -> None:
        self.proc = proc
        self._out = out
        self.thread = threading.Thread(target=self._forward, name=f"shera-local-{name}", daemon=True)
        self.thread.start()

    def _forward(self) -> None:
        fd = _out_fd(self.proc)
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, CHUNK):
                self._out(chunk)

    def stop(self, grace: float) -> None:
        end_group(self.proc.pid, grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.thread.join(timeout=DRAIN_LIMIT_S)
        if self.proc.stdout is not None and not self.thread.is_alive():
            # a process that left the group may still hold the pipe: then the reader keeps the fd
            self.proc.stdout.close()


class LocalExecutor:
    """Runs ``commands`` steps as local process groups; see the module docstring for the contract."""

    name = "local"

    def __init__(self, *, kill_grace: float = 5.0) -> None:
        self.kill_grace = kill_grace
        self._ctx: WorkflowContext | None = None
        self._lock = threading.Lock()
        self._services: list[_Service] = []
        self._running: set[int] = set()

    # -- protocol -------------------------------------------------------------------------------------

    def prepare(self, ctx: WorkflowContext) -> None:
        ctx.workspace_dir.mkdir(parents=True, exist_ok=True)
        self._ctx = ctx

    def start_service(self, step: StepPlan, env: Mapping[str, str], out: OutputSink) -> None:
        proc = self._spawn(step, env, self._workdir(step))
        with self._lock:
            self._services.append(_Service(proc, out, step.name))

    def run_step(
        self,
        step: StepPlan,
        env: Mapping[str, str],
        out: OutputSink,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StepResult:
        try:
            proc = self._spawn(step, env, self._workdir(step))
        except ExecutorError as exc:
            return StepResult(Status.FAILURE, NOT_STARTED_EXIT_CODE, error=str(exc))
        if timeout is None:
            timeout = step.timeout_s
        with self._lock:
            self._running.add(proc.pid)
        try:
            killed = self._supervise(proc, out, timeout, cancel)
        finally:
            self._finish(proc, out)
            with self._lock:
                self._running.discard(proc.pid)
        if killed:
            return StepResult(Status.KILLED, KILLED_EXIT_CODE)
        code = proc.returncode
        exit_code = 128 - code if code < 0 else code
        return StepResult(Status.SUCCESS if exit_code == 0 else Status.FAILURE, exit_code)

    def teardown(self) -> None:
        with self._lock:
            services, self._services = self._services, []
            running = list(self._running)
        for pgid in running:
            end_group(pgid, self.kill_grace)
        for service in services:
            service.stop(self.kill_grace)

    # -- internals ------------------------------------------------------------------------------------

    def _workdir(self, step: StepPlan) -> Path:
        if self._ctx is None:
            raise ExecutorError("the local executor was used before prepare()")
        if not step.commands:
            raise ExecutorError(
                f"step {step.name!r} has no commands (a plugin runs its image's entrypoint); "
                "the local executor cannot run it: use the podman executor"
            )
        return host_workdir(self._ctx.workspace_dir, step.directory)

    @staticmethod
    def _spawn(step: StepPlan, env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        full_env = dict(env)
        for key in ("PATH", "HOME"):
            if key not in full_env and key in os.environ:
                full_env[key] = os.environ[key]
        try:
            return subprocess.Popen(
                ["/bin/sh", "-c", shell_script(step.commands)],
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            raise ExecutorError(f"step {step.name!r} could not be started: {exc}") from exc

    def _supervise(
        self,
        proc: subprocess.Popen[bytes],
        out: OutputSink,
        timeout: float | None,
        cancel: threading.Event | None,
    ) -> bool:
        """Forward output until the shell exits; True when the timeout or cancel ended it first."""
        fd = _out_fd(proc)
        pidfd = _pidfd(proc.pid)
        deadline = None if timeout is None else time.monotonic() + timeout
        watched = [fd] if pidfd is None else [fd, pidfd]
        try:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                if cancel is not None or pidfd is None:
                    wait = CANCEL_CHECK_S if wait is None else min(wait, CANCEL_CHECK_S)
                ready = select.select(watched, [], [], wait)[0]
                if fd in ready:
                    chunk = os.read(fd, CHUNK)
                    if chunk:
                        out(chunk)
                    else:
                        watched.remove(fd)
                if (pidfd is not None and pidfd in ready) or (pidfd is None and proc.poll() is not None):
                    return False
                expired = deadline is not None and time.monotonic() >= deadline
                if expired or (cancel is not None and cancel.is_set()):
                    end_group(proc.pid, self.kill_grace)
                    return True
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _finish(self, proc: subprocess.Popen[bytes], out: OutputSink) -> None:
        """Reap the shell, end whatever it left running, forward the last output."""
        fd = _out_fd(proc)
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        end_group(proc.pid, self.kill_grace)
        try:
            _drain(fd, out)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
