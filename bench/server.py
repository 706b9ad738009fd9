"""Benchmarks: the server figures of ``make bench`` (issue 3) — webhooks, push-to-run latency, burst, memory.

Two ``shera up`` instances on temp data dirs (SQLite, private Redis), each stopped by pid when done:

1. Webhook accept: 2,000 signed GitHub pushes (distinct delivery ids and commits, so each creates a run;
   ``WARM`` more before them, untimed) from ``bench.loadgen`` (a separate process, 16 keep-alive
   connections) against ``shera up``, and the same generator against the floor (``bench.floor``: a bare
   ASGI app doing HMAC verify, JSON parse and one SQLite INSERT under the same uvicorn settings). The
   project's pipeline is skipped cheaply (``when: branch: never-matches``) and ``cancel_superseded`` is off,
   so all 2,000 runs stay queued and the worker executes (checks out, plans, skips) them while the webhooks
   arrive, as it would in production. Resident memory of the ``shera up`` tree is read idle and right after
   the 2,000 webhooks (``bench.upproc.tree_memory``): the target applies to the sum of PSS (each shared page
   counted once); the sum of RSS is printed beside it.
2. Push-to-run latency, a 100-branch burst and a 1 GB-output step on a second, quiet instance
   (``bench.pushes``).

Each timed phase starts after ``sync`` (``bench.stats.quiet_disk``): the writeback of an earlier phase's files
otherwise stalls this one's file operations and doubles its latencies on this machine's disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.gitrepo import Commit, make_bare, push_payload, signed
from bench.loadgen import write_requests
from bench.pushes import bench_pushes
from bench.stats import MB, percentile, quiet_disk, show
from bench.upproc import Up, list_all_runs, make_project, running_floor, start_up

WEBHOOKS = 2000
WARM = 64
"""Deliveries sent before the timed ones and not counted (both servers), so their database connections,
statement caches and project look-ups are warm: the figures are of a running server, not of its start."""
CONCURRENCY = 16
SKIPPED = """when:
  branch: never-matches
steps:
  - name: never
    image: busybox
    commands: [echo never]
"""

Result = tuple[float, bool]


def load(requests_file: Path, url: str, warm: str) -> dict[str, Any]:
    """Run the load generator (its own process) and return its result; ``requests_file`` with ``.warm``
    added to its suffix holds the untimed warm-up deliveries."""
    argv = [sys.executable, "-m", "bench.loadgen", str(requests_file), url]
    warm_file = requests_file.with_suffix(requests_file.suffix + ".warm")
    done = subprocess.run(
        [*argv, "--concurrency", str(CONCURRENCY), "--warm", warm, "--warm-requests", str(warm_file)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def summary(result: dict[str, Any], accepted_status: str) -> tuple[float, float, float, int]:
    """(accepted/s, p50 ms, p99 ms, accepted count) of a load generator result."""
    latencies = [value * 1000 for value in result["latencies"]]
    accepted = int(result["statuses"].get(accepted_status, 0))
    return accepted / result["elapsed"], percentile(latencies, 50), percentile(latencies, 99), accepted


def write_deliveries(path: Path, commits: list[Commit], url: str, secret: str, prefix: str) -> None:
    """Signed push deliveries of ``commits``: the first ``WARM`` to ``path.warm``, the rest to ``path``."""
    requests = [signed(push_payload(url, c), secret, f"{prefix}-{i}") for i, c in enumerate(commits)]
    write_requests(path.with_suffix(path.suffix + ".warm"), requests[:WARM])
    write_requests(path, requests[WARM:])


def run_floor(root: Path, commits: list[Commit], url: str) -> tuple[float, float, float, int]:
    """The same webhooks against the floor app; its figures."""
    secret = "floor-secret"  # noqa: S105 (a throwaway HMAC key of the benchmark)
    write_deliveries(root / "floor.jsonl", commits, url, secret, "floor")
    with running_floor(root, secret) as base:
        quiet_disk()
        return summary(load(root / "floor.jsonl", f"{base}/hooks/github/floor", f"{base}/healthz"), "202")


def _runs_by_status(up: Up, token: str, project_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in list_all_runs(up, token, project_id):
        counts[run["status"]] = counts.get(run["status"], 0) + 1
    return counts


def bench_webhooks(root: Path) -> list[Result]:
    repo = make_bare(root / "app.git")
    commits = repo.commits(["main"] * (WARM + WEBHOOKS), {".shera.yml": SKIPPED})
    up = start_up(root)
    try:
        time.sleep(2)  # let startup settle (migrations, imports of the worker)
        idle = up.memory()
        token, project = make_project(up, "hooks", repo.url, cancel_superseded=False)
        write_deliveries(root / "hooks.jsonl", commits, repo.url, project["webhook_secret"], "bench")
        quiet_disk()
        result = load(root / "hooks.jsonl", project["hook_url"], f"{up.url}/healthz")
        after = up.memory()
        states = _runs_by_status(up, token, project["id"])
    finally:
        up.stop()
    rate, p50, p99, accepted = summary(result, "202")
    f_rate, f_p50, f_p99, _ = run_floor(root, commits, repo.url)
    print(
        f"webhooks: {WEBHOOKS} signed GitHub pushes (after {WARM} untimed), {CONCURRENCY} connections, "
        f"{accepted} accepted (202), "
        f"statuses {result['statuses']}; pipeline skipped by `when: branch: never-matches`"
    )
    print(f"  runs right after the load: {states}")
    results = [
        (
            rate,
            show(
                "accepted/s", f"{rate:.0f}", ">= 500", rate >= 500 and accepted == WEBHOOKS, f"{f_rate:.0f}"
            ),
        ),
        (p50, show("accept latency p50", f"{p50:.1f} ms", "none", True, f"{f_p50:.1f} ms")),
        (p99, show("accept latency p99", f"{p99:.1f} ms", "<= 50 ms", p99 <= 50, f"{f_p99:.1f} ms")),
    ]
    for label, memory in (("idle", idle), (f"after {WEBHOOKS} webhooks", after)):
        pss = sum(p for _, p in memory.values()) / MB
        rss = sum(r for r, _ in memory.values()) / MB
        parts = ", ".join(f"{name} {p / MB:.0f}" for name, (r, p) in memory.items() if r)
        figure = f"{pss:.0f} MB PSS ({parts}); RSS summed {rss:.0f} MB"
        results.append((pss, show(f"resident memory {label}", figure, "<= 250 MB", pss <= 250)))
    return results


def bench_server() -> list[Result]:
    """Every server figure; each printed beside its target (and the floor's, where there is one)."""
    print("\nserver (shera up: SQLite, private Redis, local executor):")
    with tempfile.TemporaryDirectory(prefix="shera-bench-") as tmp:
        root = Path(tmp)
        (root / "hooks").mkdir()
        (root / "runs").mkdir()
        results = bench_webhooks(root / "hooks")
        results += bench_pushes(root / "runs")
    return results
