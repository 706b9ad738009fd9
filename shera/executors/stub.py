"""Executors layer: ``StubExecutor``, which behaves like a real executor without running anything.

Semantics follow Woodpecker's dummy backend, driven by the step's environment:

- ``STEP_EXIT_CODE``: the exit code (default 0; not a number counts as 0, as Go's ``Atoi`` error does);
- ``STEP_OOM_KILLED=true``: the result is marked ``oom_killed``;
- ``SLEEP``: a Go duration (``100ms``, ``1.5s``, ``1m30s``) the step takes; a timeout or ``cancel`` ends
  it early as ``killed`` (exit 137);
- ``STEP_START_FAIL=true``: the step cannot be started (``ExecutorError``).

Output is the step's commands, one ``+ command`` line each (what a real shell trace prints first). Every
call is recorded in ``calls``; ``running`` is what would still be running (steps in progress, services not
torn down): empty after ``teardown``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from shera.errors import ExecutorError
from shera.executors.base import KILLED_EXIT_CODE, OutputSink, StepResult, WorkflowContext
from shera.model.plan import StepPlan
from shera.model.status import Status

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string such as ``100ms`` or ``1h2m3.5s``; ``ValueError`` if malformed."""
    value = text.strip()
    if value == "0":
        return 0.0
    if not value:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    while pos < len(value):
        match = _DURATION_PART.match(value, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total


def _flag(env: Mapping[str, str], key: str) -> bool:
    return env.get(key, "").strip().lower() in ("1", "t", "true")


class StubExecutor:
    """A fake executor for tests; thread-safe. See the module docstring for how steps are steered."""

    name = "stub"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.envs: dict[str, dict[str, str]] = {}
        self.running: set[str] = set()
        self.context: WorkflowContext | None = None
        self.torn_down = False
        self._lock = threading.Lock()

    def _record(self, call: str, name: str) -> None:
        with self._lock:
            self.calls.append((call, name))

    def prepare(self, ctx: WorkflowContext) -> None:
        self._record("prepare", ctx.name)
        self.context = ctx

    def start_service(self, step: StepPlan, env: Mapping[str, str], out: OutputSink) -> None:
        self._record("start_service", step.name)
        self._check_startable(step, env)
        with self._lock:
            self.envs[step.name] = dict(env)
            self.running.add(step.name)
        self._echo(step, out)

    def run_step(
        self,
        step: StepPlan,
        env: Mapping[str, str],
        out: OutputSink,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
    ) -> StepResult:
        self._record("run_step", step.name)
        self._check_startable(step, env)
        try:
            sleep = parse_go_duration(env["SLEEP"]) if "SLEEP" in env else 0.0
        except ValueError as exc:
            raise ExecutorError(f"step {step.name!r}: SLEEP: {exc}") from exc
        with self._lock:
            self.envs[step.name] = dict(env)
            self.running.add(step.name)
        try:
            self._echo(step, out)
            if sleep > 0 and not self._sleep(sleep, timeout, cancel):
                return StepResult(Status.KILLED, KILLED_EXIT_CODE)
            if cancel is not None and cancel.is_set():
                return StepResult(Status.KILLED, KILLED_EXIT_CODE)
        finally:
            with self._lock:
                self.running.discard(step.name)
        try:
            exit_code = int(env.get("STEP_EXIT_CODE", "0").strip())
        except ValueError:
            exit_code = 0
        status = Status.SUCCESS if exit_code == 0 else Status.FAILURE
        return StepResult(status, exit_code, oom_killed=_flag(env, "STEP_OOM_KILLED"))

    def teardown(self) -> None:
        self._record("teardown", "")
        with self._lock:
            self.running.clear()
            self.torn_down = True

    def _check_startable(self, step: StepPlan, env: Mapping[str, str]) -> None:
        if self.context is None or self.torn_down:
            raise ExecutorError(f"step {step.name!r} started outside prepare()/teardown()")
        if _flag(env, "STEP_START_FAIL"):
            raise ExecutorError(f"step {step.name!r} could not be started (STEP_START_FAIL)")

    @staticmethod
    def _echo(step: StepPlan, out: OutputSink) -> None:
        for command in step.commands:
            out(f"+ {command}\n".encode())

    @staticmethod
    def _sleep(seconds: float, timeout: float | None, cancel: threading.Event | None) -> bool:
        """Sleep ``seconds``; False when the timeout or ``cancel`` came first."""
        limit = seconds if timeout is None else min(seconds, timeout)
        event = cancel or threading.Event()
        if event.wait(limit):
            return False
        return timeout is None or seconds <= timeout
