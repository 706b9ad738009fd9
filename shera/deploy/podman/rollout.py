"""Deploy layer (podman target): rolling and recreate rollouts, and scaling, driven by She-Ra.

Rolling (``converge`` with ``recreate=False``), per batch of ``surge`` instances: start the new-revision
instances (in parallel), poll their health until each passes, mark them serving, then retire as many old
instances. Retiring marks an instance not serving in the state, waits ``drain_s`` (clients that read the
endpoints a moment ago finish their requests) and stops it with SIGTERM. So the old revision keeps
serving until it is replaced, and a request loop over the recorded endpoints sees no failure. When a new
instance fails its health before the deadline (or ``cancel`` is set), every instance this rollout started
is stopped and the old ones keep serving: the result is a failed ``RolloutStatus`` and the live revision in
the state is unchanged. With ``max_surge`` 0, ``max_unavailable`` old instances are retired before each
batch instead. Recreate retires all old instances first.

Before a rollout, containers of the app/environment that are not running, or running but not serving
(left over by a crash), are removed. One rollout per app/environment at a time: the deploy service
serialises them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from shera.deploy.base import Endpoint, OutputSink, RolloutStatus
from shera.deploy.podman.health import ProbeResult, wait_healthy
from shera.deploy.podman.instances import Instance, Instances, PortTaken
from shera.deploy.podman.ports import LOOPBACK, allocate
from shera.deploy.podman.render import Template
from shera.deploy.podman.state import AppState, StateStore
from shera.errors import PermanentError

START_ATTEMPTS = 3


def resolve(value: int | str, replicas: int, *, round_up: bool) -> int:
    """``max_surge``/``max_unavailable`` as a count: an int, or a percentage of ``replicas`` (surge rounds
    up, unavailable rounds down, as Kubernetes does)."""
    if isinstance(value, int):
        return value
    fraction = replicas * int(str(value).rstrip("%")) / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def endpoints_of(state: AppState) -> tuple[Endpoint, ...]:
    """The serving instances recorded in ``state``, at their first port's host port."""
    found = []
    for name, record in sorted(state["instances"].items()):
        if record.get("serving") and record.get("primary") is not None:
            found.append(Endpoint(host=LOOPBACK, port=int(record["primary"]), instance=name))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class _Started:
    name: str
    ports: Mapping[int, int]
    result: ProbeResult


class Rollout:
    """Converges one app/environment onto a template; see the module docstring."""

    def __init__(
        self,
        instances: Instances,
        store: StateStore,
        *,
        out: OutputSink,
        stop_grace_s: float,
        drain_s: float,
        cancel: threading.Event | None = None,
    ) -> None:
        self.instances = instances
        self.store = store
        self.out = out
        self.stop_grace_s = stop_grace_s
        self.drain_s = drain_s
        self.cancel = cancel or threading.Event()

    def say(self, message: str) -> None:
        self.out(f"[podman] {message}\n".encode())

    # -- state helpers --------------------------------------------------------------------------------

    def _update(self, template: Template, change: Callable[[AppState], None]) -> AppState:
        return self.store.update(template.tenant, template.app, template.environment, change)

    def _serving(self, template: Template) -> tuple[list[Instance], list[Instance]]:
        """Remove leftovers; the serving instances of ``template``'s revision and of other revisions."""
        listed = self.instances.find(template.tenant, template.app, template.environment)
        state = self.store.load(template.tenant, template.app, template.environment)
        recorded = state["instances"]
        keep = [i for i in listed if i.running and recorded.get(i.name, {}).get("serving")]
        for leftover in (i for i in listed if i not in keep):
            self.say(f"removing leftover instance {leftover.name}")
            self.instances.stop(leftover.name, 0)
        names = {i.name for i in keep}
        self._update(
            template, lambda s: s.update(instances={n: r for n, r in s["instances"].items() if n in names})
        )
        new = [i for i in keep if i.revision == template.revision]
        return new, [i for i in keep if i.revision != template.revision]

    # -- starting and retiring ------------------------------------------------------------------------

    def _start(self, template: Template, number: int, env: Mapping[str, str], deadline: float) -> _Started:
        name = template.name(number)
        for attempt in range(1, START_ATTEMPTS + 1):
            chosen: dict[int, int] = {}

            def record(state: AppState, chosen: dict[int, int] = chosen) -> None:
                chosen.update(allocate(template.ports, self.store.all_ports()))
                state["instances"][name] = {
                    "revision": template.revision,
                    "number": number,
                    "ports": {str(c): h for c, h in chosen.items()},
                    "primary": chosen[template.ports[0]] if template.ports else None,
                    "serving": False,
                }

            self._update(template, record)
            try:
                self.instances.start(template, number, chosen, env)
                break
            except PortTaken:
                self._forget(template, [name])
                if attempt == START_ATTEMPTS:
                    raise
        result = wait_healthy(
            template.health,
            chosen,
            lambda argv, timeout: self.instances.exec(name, argv, timeout),
            lambda: self.instances.why_not_running(name),
            deadline=deadline,
            cancel=self.cancel,
        )
        return _Started(name, chosen, result)

    def _forget(self, template: Template, names: Sequence[str]) -> None:
        def drop(state: AppState) -> None:
            for name in names:
                state["instances"].pop(name, None)

        self._update(template, drop)

    def _set_serving(self, template: Template, names: Sequence[str], serving: bool) -> None:
        def mark(state: AppState) -> None:
            for name in names:
                if name in state["instances"]:
                    state["instances"][name]["serving"] = serving

        self._update(template, mark)

    def retire(self, template: Template, names: Sequence[str]) -> None:
        """Take ``names`` out of the endpoints, let in-flight requests finish, stop and remove them."""
        if not names:
            return
        self._set_serving(template, names, False)
        time.sleep(self.drain_s)
        for name in names:
            self.say(f"stopping {name}")
            self.instances.stop(name, self.stop_grace_s)
        self._forget(template, names)

    def start_batch(
        self, template: Template, numbers: Sequence[int], env: Mapping[str, str], deadline: float
    ) -> str | None:
        """Start instances ``numbers`` in parallel and wait for their health; ``None`` when all serve,
        else why not (every instance of the batch is then stopped again)."""
        self.say(f"starting {', '.join(template.name(n) for n in numbers)}")
        with ThreadPoolExecutor(max_workers=max(1, len(numbers))) as pool:
            futures = [pool.submit(self._start, template, n, env, deadline) for n in numbers]
        started: list[_Started] = []
        problems: list[str] = []
        for number, future in zip(numbers, futures, strict=True):
            error = future.exception()
            if error is None:
                started.append(future.result())
            else:
                problems.append(f"{template.name(number)}: {error}")
        problems += [f"{s.name}: {s.result.detail}" for s in started if not s.result.ok]
        if not problems:
            self._set_serving(template, [s.name for s in started], True)
            self.say(f"healthy: {', '.join(s.name for s in started)}")
            return None
        for item in started:
            if not item.result.ok:
                self.out(f"[podman] last output of {item.name}:\n{self.instances.logs(item.name)}".encode())
        for number in numbers:
            self.instances.stop(template.name(number), 0)
        self._forget(template, [template.name(n) for n in numbers])
        return "; ".join(problems)

    # -- the verbs ------------------------------------------------------------------------------------

    def converge(
        self,
        template: Template,
        manifests: Mapping[str, Any],
        env: Mapping[str, str],
        *,
        surge: int | None = None,
        recreate: bool = False,
    ) -> RolloutStatus:
        """Make ``template.replicas`` healthy instances of its revision serve and nothing else; see the
        module docstring. On success ``manifests`` become the live record. ``surge`` overrides the template's
        ``max_surge`` (a rollback starts them all at once)."""
        deadline = time.monotonic() + template.deadline_s
        new, old = self._serving(template)
        replicas = template.replicas
        if surge is None:
            surge = resolve(template.strategy.get("max_surge", 1), replicas, round_up=True)
        unavailable = max(1, resolve(template.strategy.get("max_unavailable", 0), replicas, round_up=False))
        if recreate:
            self.retire(template, [i.name for i in old])
            old, surge = [], replicas
        used = {i.number for i in new}
        free = (n for n in range(1, 10**6) if n not in used)
        while len(new) < replicas:
            if self.cancel.is_set():
                return self._failed(template, len(new), "cancelled")
            batch = min(surge if surge > 0 else unavailable, replicas - len(new))
            if surge <= 0:
                self.retire(template, [i.name for i in old[:batch]])
                old = old[batch:]
            numbers = [next(free) for _ in range(batch)]
            problem = self.start_batch(template, numbers, env, deadline)
            if problem is not None:
                return self._failed(template, len(new), problem)
            new += [
                Instance(template.name(n), template.revision, n, True, template.image, {}, template.labels)
                for n in numbers
            ]
            self.retire(template, [i.name for i in old[:batch]])
            old = old[batch:]
        extra = sorted(new, key=lambda i: i.number)[replicas:]
        self.retire(template, [i.name for i in old + extra])
        return self._live(template, manifests)

    def _failed(self, template: Template, ready: int, problem: str) -> RolloutStatus:
        self.say(f"revision {template.revision} failed: {problem}")
        state = self.store.load(template.tenant, template.app, template.environment)
        return RolloutStatus(
            state="failed",
            ready=ready,
            desired=template.replicas,
            message=f"revision {template.revision} failed: {problem}",
            endpoints=endpoints_of(state),
        )

    def _live(self, template: Template, manifests: Mapping[str, Any]) -> RolloutStatus:
        def go_live(state: AppState) -> None:
            state["revision"] = template.revision
            state["manifests"] = dict(manifests)

        state = self._update(template, go_live)
        endpoints = endpoints_of(state)
        self.say(f"revision {template.revision} is live ({template.replicas} instances)")
        return RolloutStatus(
            state="available",
            ready=template.replicas,
            desired=template.replicas,
            message=f"revision {template.revision} is live",
            endpoints=endpoints,
        )


def secret_values(template: Template, given: Mapping[str, str]) -> dict[str, str]:
    """The template's env plus its secrets' values from ``given``; ``PermanentError`` if one is missing."""
    missing = [name for name in template.secrets if name not in given]
    if missing:
        raise PermanentError(
            f"app {template.app!r}: no value for secret env {', '.join(missing)}; deploy the release again"
        )
    return {**template.env, **{name: given[name] for name in template.secrets}}
