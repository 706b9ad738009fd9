"""Runs layer: ``DbReporter``, the runtime ``Reporter`` of server runs: step states and log chunks in the DB.

Output arrives already masked by the runtime; nothing here sees unmasked bytes. Each step buffers its output
and writes a chunk when the buffer reaches ``flush_bytes`` (in the producing thread: a step that prints faster
than the database takes it is slowed down, not buffered without end) or when the flusher thread finds it
older than ``flush_interval``. A step's log stops at ``cap_bytes``: the rest is dropped and one line
``[log truncated at N bytes]`` is added. Memory is bounded by ``flush_bytes`` per running step.

Thread-safe (steps of a stage report from several threads). It never raises into the runtime: database
errors are logged, and the buffered bytes are kept for the next flush.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from shera.runtime.results import StepOutcome, WorkflowResult
from shera.store import logs as log_store
from shera.store import steps as step_store
from shera.store.db import Database
from shera.store.steps import StepEnd

log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_T = TypeVar("_T")

FLUSH_BYTES = 64 * 1024
FLUSH_INTERVAL = 0.2


class _StepLog:
    """The log state of one step; guarded by ``lock``."""

    def __init__(self, step_id: str) -> None:
        self.step_id = step_id
        self.lock = threading.Lock()
        self.buffer = bytearray()
        self.seq = 0
        self.size = 0
        self.truncated = False
        self.first_at = 0.0
        self.ended = False


class DbReporter:
    """Reports one run's steps into the database; ``close`` once ``run_plan`` returned."""

    def __init__(
        self,
        db: Database,
        run_id: str,
        *,
        cap_bytes: int,
        step_ids: Mapping[tuple[str, str], str] | None = None,
        flush_bytes: int = FLUSH_BYTES,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.db = db
        self.run_id = run_id
        self.cap = max(0, cap_bytes)
        self.flush_bytes = flush_bytes
        self.flush_interval = flush_interval
        self._lock = threading.Lock()
        self._steps = {key: _StepLog(step_id) for key, step_id in (step_ids or {}).items()}
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name=f"logs-{run_id[:8]}", daemon=True)
        self._flusher.start()

    # Reporter protocol -------------------------------------------------------------------------------

    def on_workflow_start(self, workflow: str) -> None:
        pass

    def on_step_start(self, workflow: str, step: str) -> None:
        state = self._state(workflow, step)
        if state is not None:
            self._guard(step_store.start_step, self.db, state.step_id, datetime.now(UTC))

    def on_output(self, workflow: str, step: str, data: bytes) -> None:
        state = self._state(workflow, step)
        if state is None or not data:
            return
        with state.lock:
            self._append(state, data)
            if len(state.buffer) >= self.flush_bytes:
                self._flush(state)

    def on_step_end(self, workflow: str, outcome: StepOutcome) -> None:
        state = self._state(workflow, outcome.name)
        if state is None:
            return
        with state.lock:
            state.ended = True
            end = StepEnd(
                status=str(outcome.status),
                exit_code=outcome.exit_code,
                error=outcome.error,
                started_at=outcome.started_at,
                finished_at=outcome.finished_at,
                duration_s=round(outcome.duration_s, 3),
            )
            chunk = (state.seq, bytes(state.buffer)) if state.buffer else None

            def record() -> bool:
                step_store.end_step(
                    self.db,
                    state.step_id,
                    end,
                    log_bytes=state.size,
                    log_truncated=state.truncated,
                    last_chunk=chunk,
                )
                return True

            # The rest of the log and the end in one transaction; on failure the buffer stays for close().
            if self._guard(record) and chunk is not None:
                state.seq += 1
                state.buffer.clear()

    def on_workflow_end(self, result: WorkflowResult) -> None:
        """Steps that got no ``on_step_end`` (their workflow never ran) take their final state from here."""
        for outcome in result.steps:
            state = self._state(result.label, outcome.name)
            if state is not None and not state.ended:
                self.on_step_end(result.label, outcome)

    # Own API -----------------------------------------------------------------------------------------

    def adopt(self, step_ids: Mapping[tuple[str, str], str]) -> None:
        """Take the ids of step rows created after construction (keyed by workflow label and step name)."""
        with self._lock:
            for key, step_id in step_ids.items():
                self._steps.setdefault(key, _StepLog(step_id))

    def write(self, workflow: str, step: str, data: bytes) -> None:
        """Add She-Ra's own lines (setup, problems) to a step's log; stored like output (within
        ``flush_interval``, and at the latest with the step's end)."""
        self.on_output(workflow, step, data)

    def close(self) -> None:
        """Stop the flusher and write every buffer (idempotent)."""
        self._stop.set()
        if self._flusher.is_alive():
            self._flusher.join()
        for state in self._all():
            with state.lock:
                self._flush(state)

    # Internals ---------------------------------------------------------------------------------------

    def _state(self, workflow: str, step: str) -> _StepLog | None:
        key = (workflow, step)
        with self._lock:
            state = self._steps.get(key)
            if state is not None:
                return state
            position = len(self._steps)
        step_id = self._guard(step_store.add_step, self.db, self.run_id, workflow, step, position)
        if step_id is None:
            return None
        with self._lock:
            return self._steps.setdefault(key, _StepLog(step_id))

    def _all(self) -> list[_StepLog]:
        with self._lock:
            return list(self._steps.values())

    def _append(self, state: _StepLog, data: bytes) -> None:
        """Buffer ``data`` within the cap; at the cap, note the truncation once and drop the rest."""
        if state.truncated:
            return
        if not state.buffer:
            state.first_at = time.monotonic()
        room = self.cap - state.size
        if len(data) > room:
            data = data[: max(0, room)]
            state.truncated = True
        state.buffer += data
        state.size += len(data)
        if state.truncated:
            lead = b"" if state.buffer.endswith(b"\n") or not state.buffer else b"\n"
            state.buffer += lead + f"[log truncated at {self.cap} bytes]\n".encode()

    def _flush(self, state: _StepLog) -> None:
        """Write the buffer as the step's next chunk; on failure keep it for the next try."""
        if not state.buffer:
            return
        data = bytes(state.buffer)
        try:
            log_store.append_chunk(self.db, state.step_id, state.seq, data)
        except Exception as exc:  # a reporter must not raise into the runtime
            log.warning("run %s: cannot store a log chunk (%s); will retry", self.run_id, exc)
            return
        state.seq += 1
        state.buffer.clear()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval / 2):
            now = time.monotonic()
            for state in self._all():
                if state.buffer and now - state.first_at >= self.flush_interval:
                    with state.lock:
                        self._flush(state)

    def _guard(self, func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
        """Call a store function; log instead of raising (the runtime must not see our errors)."""
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            log.warning("run %s: cannot record step state (%s)", self.run_id, exc)
            return None
