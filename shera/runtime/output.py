"""Runtime layer: the output sink handed to an executor for one step: masks secrets, then reports."""

from __future__ import annotations

import threading

from shera.runtime.masking import SecretMasker
from shera.runtime.reporter import Reporter


class StepOutput:
    """Callable ``OutputSink`` of one step or service. Thread-safe; ``close`` releases the held-back tail.

    Bytes fed after ``close`` are masked as a whole and reported at once (a service may still print while
    its workflow is torn down).
    """

    def __init__(self, masker: SecretMasker, reporter: Reporter, workflow: str, step: str) -> None:
        self._masker = masker
        self._stream = masker.stream()
        self._reporter = reporter
        self._workflow = workflow
        self._step = step
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, data: bytes) -> None:
        with self._lock:
            masked = self._masker.mask(data) if self._closed else self._stream.feed(data)
            if masked:
                self._reporter.on_output(self._workflow, self._step, masked)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            rest = self._stream.flush()
            if rest:
                self._reporter.on_output(self._workflow, self._step, rest)
