"""Benchmarks: local-executor overhead per step, lint throughput over the corpus, and the one-file image
rebuild+push vs a cold build+push (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.deploy import bench_history, bench_rollback
from bench.exposure import bench_exposure
from bench.images import bench_template_rebuild
from bench.server import bench_server
from shera.executors.base import WorkflowContext
from shera.executors.local import LocalExecutor
from shera.model.plan import StepKind, StepPlan
from shera.pipeline.loader import load_path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "pipelines"
STEPS = 50
ROUNDS = 5


def _best(fn: Callable[[], None]) -> float:
    """The fastest of ROUNDS runs, in seconds (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_local_overhead() -> tuple[float, bool]:
    step = StepPlan(name="true", kind=StepKind.COMMANDS, commands=("true",))
    with tempfile.TemporaryDirectory() as tmp:
        executor = LocalExecutor()
        executor.prepare(WorkflowContext(name="bench", workspace_dir=Path(tmp)))
        try:

            def through_shera() -> None:
                for _ in range(STEPS):
                    result = executor.run_step(step, {"PATH": "/usr/bin:/bin"}, lambda _chunk: None)
                    assert result.exit_code == 0

            def direct() -> None:
                for _ in range(STEPS):
                    subprocess.run(["/bin/sh", "-c", "true"], check=True, cwd=tmp)

            shera_s = _best(through_shera)
            direct_s = _best(direct)
        finally:
            executor.teardown()
    overhead_ms = (shera_s - direct_s) / STEPS * 1000
    print(
        f"local executor: {STEPS} steps of `true` {shera_s * 1000:.1f} ms; "
        f"{STEPS} direct `sh -c true` {direct_s * 1000:.1f} ms"
    )
    ok = overhead_ms <= 10
    print(f"  overhead per step: {overhead_ms:.2f} ms (target <= 10 ms) {'OK' if ok else 'MISSED'}")
    return overhead_ms, ok


def bench_lint_corpus() -> tuple[float, bool]:
    files = sorted(p for p in CORPUS.glob("*/*.y*ml"))
    if not files:
        print("lint throughput: corpus not found beside the checkout; skipped")
        return 0.0, True
    start = time.perf_counter()
    problems = 0
    for path in files:
        problems += len(load_path(path).problems)
    elapsed = time.perf_counter() - start
    ok = elapsed < 5
    print(
        f"lint: {len(files)} corpus files in {elapsed:.2f} s ({len(files) / elapsed:.0f} files/s, "
        f"{problems} problems) (target < 5 s) {'OK' if ok else 'MISSED'}"
    )
    return elapsed, ok


def main() -> int:
    results = [bench_local_overhead(), bench_lint_corpus(), bench_template_rebuild()]
    results += bench_server()
    results += bench_exposure()
    results += [bench_history(), bench_rollback()]
    missed = [r for r in results if not r[1]]
    print(f"\n{len(results) - len(missed)} of {len(results)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
