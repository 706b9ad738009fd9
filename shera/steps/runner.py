"""Steps layer: the protocol of She-Ra step kinds that run (``uses: build`` ...), and what they get and give.

A runner is found by kind name in the registry group ``shera.runners`` (built-ins are entry points like
third-party ones) and handed to the runtime; the runtime calls ``run`` for each ``uses:`` step of that kind
instead of an executor. Contract:
- ``run`` blocks until the step ended and returns a ``KindResult``; a failed build is a result, not an
  exception. It raises only ``SheraError`` subclasses (the runtime turns them into a failed step).
- It must honour ``ctx.cancel`` and ``ctx.timeout`` (return ``killed``), write its output through ``ctx.out``
  (the runtime masks secrets there), and never read files outside ``ctx.source_dir`` on behalf of the user.
- It may be called concurrently for different steps; it must be safe for that.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from shera.executors.base import OutputSink, StepResult
from shera.model.event import Event
from shera.model.plan import StepPlan, WorkflowPlan

RUNNERS = "shera.runners"


@dataclass(frozen=True, slots=True)
class KindContext:
    """What a runner may use. ``source_dir`` is the host directory holding the checked-out repository
    (the workspace root as the clone left it); ``env`` is the step's full environment (``CI_*`` variables,
    the step's ``environment``, resolved secrets); ``secrets`` are the run's secret values by name (empty for
    pull requests from forks); ``data_dir`` is She-Ra's state directory (image stores and caches live there);
    ``project`` names the project (``local`` for ``shera exec``) so per-project state can be kept apart;
    ``artifacts`` holds what earlier She-Ra steps of the same workflow produced, by step name (``uses:
    deploy`` finds the image ``uses: build`` pushed there)."""

    step: StepPlan
    workflow: WorkflowPlan
    event: Event
    source_dir: Path
    env: Mapping[str, str]
    secrets: Mapping[str, str]
    out: OutputSink
    cancel: threading.Event
    timeout: float | None = None
    data_dir: Path | None = None
    project: str = "local"
    run_id: str | None = None
    artifacts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KindResult:
    """How the step ended, plus what it produced (``artifacts``: e.g. ``{"images": [{"ref", "digest"}]}``)."""

    result: StepResult
    artifacts: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class StepRunner(Protocol):
    """Runs the steps of one ``uses:`` kind; see the module docstring for the contract."""

    kind: str

    def run(self, ctx: KindContext) -> KindResult: ...
