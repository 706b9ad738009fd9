"""Benchmarks: push-to-run latency, a 100-branch burst, and a step printing 1 GB, on one quiet ``shera up``.

The project runs a 3-step pipeline (``echo``) on the local executor. A first push warms the worker and
creates the mirror; it also fetches the commits of the next 20 pushes (they are already on the branch), so
those measure a warm worker *and* a warm mirror: webhook sent -> first step running (``started_at`` of the
first pipeline step, ``one``; the implicit ``clone`` step runs before it) and -> run finished. Ten more
pushes of new commits show the same with the incremental mirror fetch a real push needs. Timestamps come
from the API (ms) minus this process's clock just before the webhook is sent (same machine).

Then 100 new branches are pushed at once (100 webhooks over 16 threads); the figure is the time from the first
send to the last run's ``finished_at``, and every run must end ``success`` (none lost). Last, a step prints
1 GB (64-byte lines): its log must end capped with the truncation note, and the worker's resident memory
(sampled every 50 ms) must grow by less than 50 MB.

Beside the latencies and the burst stands the floor (``floor_figures``): the same signed pushes sent to
``bench.floor``, which verifies, parses, stores the delivery and runs the three ``echo`` commands itself.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.gitrepo import BareRepo, Commit, make_bare, push_payload, signed
from bench.stats import MB, epoch, percentile, quiet_disk, show
from bench.upproc import TERMINAL, Up, list_all_runs, make_project, rss_bytes, running_floor, start_up

PUSHES = 20
FETCH_PUSHES = 10
BRANCHES = 100
STEPS = ("echo one", "echo two", "echo three")
PIPELINE = "steps:\n" + "".join(
    f"  - name: {command.split()[1]}\n    image: busybox\n    commands: [{command}]\n" for command in STEPS
)
FLOOD = """steps:
  - name: flood
    image: busybox
    commands:
      - yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c 1073741824
"""

Result = tuple[float, bool]


def send(client: httpx.Client, project: dict[str, Any], repo: BareRepo, commit: Commit, delivery: str) -> str:
    body, headers = signed(push_payload(repo.url, commit), project["webhook_secret"], delivery)
    response = client.post(project["hook_url"], content=body, headers=headers)
    if response.status_code != 202:
        raise RuntimeError(f"webhook {delivery}: {response.status_code} {response.text}")
    return str(response.json()["run_id"])


def wait_run(api: httpx.Client, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = api.get(f"/api/v1/runs/{run_id}").raise_for_status().json()
        if run["status"] in TERMINAL or time.monotonic() > deadline:
            return run
        time.sleep(0.01)


def timed_push(
    hook: httpx.Client,
    api: httpx.Client,
    project: dict[str, Any],
    repo: BareRepo,
    commit: Commit,
    delivery: str,
) -> dict[str, float]:
    """Milliseconds from just before the webhook is sent to: the run taken by a worker, She-Ra's ``setup``
    step (checkout, load, plan), the ``clone`` step and the first step started, and the run finished."""
    sent = time.time()
    run = wait_run(api, send(hook, project, repo, commit, delivery))
    steps = {step["name"]: step for step in run["steps"]}

    def since(stamp: str | None) -> float:
        return (epoch(stamp) - sent) * 1000

    return {
        "leased": since(run["started_at"]),
        "setup": since(steps.get("setup", {}).get("started_at")),
        "clone": since(steps.get("clone", {}).get("started_at")),
        "first": since(steps.get("one", {}).get("started_at")),
        "finished": since(run["finished_at"]) if run["status"] == "success" else math.nan,
    }


@dataclass(frozen=True)
class Floor:
    """The floor's figures (``bench.floor`` running ``STEPS`` in its handler): p50 ms from the send to the
    first command started and to the last one ended, over ``PUSHES`` pushes; seconds for the burst."""

    first: float
    finished: float
    burst: float


def floor_figures(root: Path, repo: BareRepo) -> Floor:
    """The same pushes against the floor: one at a time, then ``BRANCHES`` at once over 16 threads."""
    secret = "floor-secret"  # noqa: S105 (a throwaway HMAC key of the benchmark)
    commits = repo.commits(["floor"] * (PUSHES + BRANCHES), {".shera.yml": PIPELINE})
    with running_floor(root, secret, STEPS) as base:
        url = f"{base}/hooks/github/floor"

        def deliver(client: httpx.Client, index: int) -> tuple[float, dict[str, float]]:
            body, headers = signed(push_payload(repo.url, commits[index]), secret, f"floor-{index}")
            sent = time.time()
            return sent, client.post(url, content=body, headers=headers).raise_for_status().json()

        with httpx.Client(timeout=60) as client:
            deliver(client, 0)  # warm: the floor's connection and database
            timed = [deliver(client, index) for index in range(1, PUSHES)]
        local = threading.local()

        def deliver_burst(index: int) -> float:
            if not hasattr(local, "client"):
                local.client = httpx.Client(timeout=60)
            return deliver(local.client, PUSHES + index)[1]["finished"]

        with ThreadPoolExecutor(16) as pool:
            pool.submit(lambda: None).result()
            started = time.time()
            finished = list(pool.map(deliver_burst, range(BRANCHES)))
    return Floor(
        first=percentile([(times["first_started"] - sent) * 1000 for sent, times in timed], 50),
        finished=percentile([(times["finished"] - sent) * 1000 for sent, times in timed], 50),
        burst=max(finished) - started,
    )


def latencies(up: Up, token: str, project: dict[str, Any], repo: BareRepo, floor: Floor) -> list[Result]:
    warm, *ahead = repo.commits(["main"] * (PUSHES + 1), {".shera.yml": PIPELINE})
    with httpx.Client(timeout=30) as hook, up.client(token) as api:
        wait_run(api, send(hook, project, repo, warm, "warm-up"))
        known = [timed_push(hook, api, project, repo, c, f"warm-{i}") for i, c in enumerate(ahead)]
        fetched = []
        for i in range(FETCH_PUSHES):
            [commit] = repo.commits(["main"], {".shera.yml": PIPELINE, "n": str(i)})
            fetched.append(timed_push(hook, api, project, repo, commit, f"fetch-{i}"))
    keys = ("leased", "setup", "clone", "first", "finished")
    p50 = {key: percentile([row[key] for row in known], 50) for key in keys}
    f50 = {key: percentile([row[key] for row in fetched], 50) for key in keys}
    print(
        f"push -> run, {PUSHES} pushes, warm worker, commit already in the mirror (p50 from the send): "
        f"taken by the worker {p50['leased']:.0f} ms, setup step {p50['setup']:.0f} ms, clone step "
        f"{p50['clone']:.0f} ms, first step running {p50['first']:.0f} ms, 3-step run finished "
        f"{p50['finished']:.0f} ms"
    )
    print(
        f"  with a new commit the mirror fetches ({FETCH_PUSHES} pushes, p50): clone step "
        f"{f50['clone']:.0f} ms, first step {f50['first']:.0f} ms, run finished {f50['finished']:.0f} ms"
    )
    first, finished = p50["first"], p50["finished"]
    floor_first, floor_finished = f"{floor.first:.1f} ms", f"{floor.finished:.1f} ms"
    return [
        (
            first,
            show(
                "webhook -> first step running p50", f"{first:.0f} ms", "<= 50 ms", first <= 50, floor_first
            ),
        ),
        (
            finished,
            show(
                "push -> 3-step run finished p50",
                f"{finished:.0f} ms",
                "<= 200 ms",
                finished <= 200,
                floor_finished,
            ),
        ),
    ]


def burst(up: Up, token: str, project: dict[str, Any], repo: BareRepo, floor: Floor) -> list[Result]:
    names = [f"burst-{i:03d}" for i in range(BRANCHES)]
    commits = repo.commits(names, {".shera.yml": PIPELINE}, parent=repo.commits(["main"], {"b": "1"})[0].sha)
    local = threading.local()

    def deliver(index: int) -> str:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
        return send(local.client, project, repo, commits[index], f"burst-{index}")

    with ThreadPoolExecutor(16) as pool:
        pool.submit(lambda: None).result()
        started = time.time()
        run_ids = set(pool.map(deliver, range(BRANCHES)))
    deadline = time.monotonic() + 120
    while True:
        runs = [run for run in list_all_runs(up, token, project["id"]) if run["id"] in run_ids]
        if all(run["status"] in TERMINAL for run in runs) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    ok_runs = [run for run in runs if run["status"] == "success"]
    total = max(epoch(run["finished_at"]) for run in runs) - started if runs else math.nan
    lost = BRANCHES - len(ok_runs)
    print(
        f"burst: {BRANCHES} pushes to {BRANCHES} branches, 3-step pipeline: "
        f"{len(ok_runs)} success, {lost} lost"
    )
    ok = total <= 10 and lost == 0
    figure, floor_figure = f"{total:.2f} s, {lost} lost", f"{floor.burst:.2f} s"
    return [(total, show("burst -> all runs finished", figure, "<= 10 s, 0 lost", ok, floor_figure))]


def flood(up: Up, root: Path) -> list[Result]:
    repo = make_bare(root / "flood.git")
    token, project = make_project(up, "flood", repo.url)
    [commit] = repo.commits(["main"], {".shera.yml": FLOOD})
    worker = up.worker_pid() or 0
    before = rss_bytes(worker)
    samples = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            samples.append(rss_bytes(worker))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.monotonic()
    with httpx.Client(timeout=30) as hook, up.client(token) as api:
        run = wait_run(api, send(hook, project, repo, commit, "flood"), timeout=600)
        elapsed = time.monotonic() - began
        stop.set()
        sampler.join()
        text = api.get(f"/api/v1/runs/{run['id']}/logs").text
    step: dict[str, Any] = next((s for s in run["steps"] if s["name"] == "flood"), {})
    noted = "[log truncated at" in text[-300:]
    grown = (max(samples) - before) / MB
    print(
        f"1 GB of output: run {run['status']} in {elapsed:.1f} s; log {len(text) / MB:.1f} MB via the API, "
        f"step log_truncated={step.get('log_truncated')}, note at the end: {noted}; worker RSS "
        f"{before / MB:.0f} MB before, {max(samples) / MB:.0f} MB peak"
    )
    ok = bool(step.get("log_truncated")) and noted and grown < 50
    return [(grown, show("1 GB step: log capped, worker RSS growth", f"{grown:.1f} MB", "< 50 MB", ok))]


def bench_pushes(root: Path) -> list[Result]:
    repo = make_bare(root / "app.git")
    quiet_disk()
    floor = floor_figures(root, repo)
    up = start_up(root)
    try:
        token, project = make_project(up, "runs", repo.url)
        quiet_disk()
        results = latencies(up, token, project, repo, floor)
        quiet_disk()
        results += burst(up, token, project, repo, floor)
        results += flood(up, root)
    finally:
        up.stop()
    return results
