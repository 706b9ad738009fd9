"""Queue layer: ``run_worker``, the ``shera worker`` process — dramatiq worker threads plus the loops.

Start: database handle, broker, git mirrors, the run actor bound to a ``WorkerContext``, a dramatiq
``Worker`` with ``settings.worker_threads`` threads, and the relay, reaper and reconciler loops. It returns
when ``stop`` is set, or on SIGTERM/SIGINT when called from the main thread. Shutdown cancels the runs this
worker executes; they go back to ``queued`` (new outbox rows) for another worker, so a deploy loses nothing.
The schema must exist (``shera serve``/``shera up`` migrate it).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import dramatiq

from shera.deploy.base import DEPLOY_TARGETS
from shera.forges.base import load_forges
from shera.gitops.mirror import Mirrors
from shera.plugins import EXECUTORS, STEP_KINDS, Registry
from shera.queue.actors import declare_actors
from shera.queue.broker import close, make_broker
from shera.queue.loops import start_loops
from shera.runs.execute import StatusHook, WorkerContext
from shera.runs.status import forge_status_hook
from shera.settings import Settings
from shera.steps.runner import RUNNERS
from shera.store.db import Database

log = logging.getLogger(__name__)

IDLE_WAIT_MS = 1000
"""How long an idle consumer blocks on the queue's wake list before it looks again (``queue.wakeup``: a new
message wakes it at once, so this bounds only shutdown and delayed-retry latency, not push-to-start)."""
STOP_TIMEOUT_MS = 60_000


def worker_id() -> str:
    """Unique per process start: ``host:pid:random`` (a restarted worker never inherits a lease)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_worker(
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    status_hook: StatusHook | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run a worker until ``stop`` is set (or SIGTERM/SIGINT); see the module docstring. ``on_ready(worker
    id)`` is called once it takes runs."""
    stop = stop or threading.Event()
    db = Database(settings.effective_database_url)
    broker = make_broker(settings)
    mirrors = Mirrors(settings.data_dir / "mirrors", settings.allowed_git_schemes)

    def checkout(url: str, sha: str, dest: Path) -> None:
        mirrors.checkout(url, sha, dest)

    ctx = WorkerContext(
        db=db,
        settings=settings,
        worker_id=worker_id(),
        checkout=checkout,
        registry=Registry.from_entry_points((EXECUTORS, STEP_KINDS, RUNNERS, DEPLOY_TARGETS)),
        status_hook=status_hook or forge_status_hook(db, settings, load_forges()),
    )
    declare_actors(broker, ctx)
    worker = dramatiq.Worker(broker, worker_threads=settings.worker_threads, worker_timeout=IDLE_WAIT_MS)
    # Prefetch no more than can run: a message waiting in this worker is a run another worker could start.
    worker.queue_prefetch = settings.worker_threads
    worker.start()
    loops = start_loops(db, settings, broker)
    log.info("worker %s started (%d threads)", ctx.worker_id, settings.worker_threads)
    if on_ready is not None:
        on_ready(ctx.worker_id)
    try:
        with _signals(stop):
            stop.wait()
    finally:
        log.info("worker %s stopping", ctx.worker_id)
        ctx.stop_all()
        worker.stop(timeout=STOP_TIMEOUT_MS)
        if loops.relay is not None:
            try:
                loops.relay.pump()  # hand the runs requeued by the shutdown to the queue now
            except Exception as exc:
                log.warning("worker stopping: requeued runs stay in the outbox (%s)", exc)
        loops.stop()
        close(broker)
        db.dispose()


@contextmanager
def _signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` while inside (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
