"""Contrib layer (exposure): the ``Balancer`` protocol, the result of an apply, and the ``Debouncer``.

A balancer (``nginx.NginxBalancer``, ``haproxy.HaproxyBalancer``) owns one process serving one zone's config
file under its own state directory. ``apply`` never leaves it worse than it was: the candidate is written
beside the live file, validated by the balancer itself, swapped in atomically, reloaded gracefully and then
checked to be serving the new version; on any failure the previous file is restored and the old config keeps
serving, and the result says what happened. The ``Debouncer`` sits in front of a balancer for callers that
produce bursts (a controller receiving endpoint events): at most one apply per ``min_interval``, the last
config submitted wins, and output equal to what is serving is not applied at all.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from shera.contrib.exposure.render import Rendered


@dataclass(frozen=True)
class ApplyResult:
    """How one apply went.

    ``ok``: the candidate is serving (or was already). ``version``: the version serving after the call (the
    old one when the apply failed; ``None`` when nothing serves). ``reloaded``: the balancer process was
    reloaded or started with the candidate. ``message``: what happened, for the user (the validator's output
    on a rejected candidate). ``candidate``: the version that was asked for. ``seconds``: wall time.
    """

    ok: bool
    version: str | None
    message: str
    reloaded: bool
    candidate: str = ""
    seconds: float = 0.0


class Balancer(Protocol):
    """One balancer process serving one zone.

    Contract: ``start`` is idempotent (a balancer already running from the same state directory, also one
    left by an earlier process, is adopted; with no config yet an empty config for the zone is served).
    ``apply`` starts the process when it is not running. ``stop`` is idempotent and safe when ``start``
    failed; it stops the process by pid (gracefully). ``apply`` and ``current_version`` are thread-safe
    (applies are serialised). ``apply`` does not raise for a bad candidate: it returns ``ok=False``; it
    raises ``BalancerUnavailable`` only when the balancer cannot be run at all.
    """

    kind: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def apply(self, rendered: Rendered) -> ApplyResult: ...

    def current_version(self) -> str | None:
        """The version of the live config file (``None`` before the first config)."""
        ...

    def served_version(self) -> str | None:
        """The version the running process answers at its status endpoint; ``None`` when it does not."""
        ...


class Debouncer:
    """Coalesces bursts of configs for one balancer: at most one apply per ``min_interval`` seconds.

    ``submit`` never blocks on the balancer: it records the config as pending (replacing any older pending
    one) and a background thread applies it — at once when the last apply is older than ``min_interval``,
    otherwise when the interval has passed. A pending config whose version is the one serving is dropped
    without a reload. ``flush`` waits until nothing is pending and returns the last result; ``close`` stops
    the thread (after applying what is pending). ``applies`` counts the applies made and ``reloads`` those
    that reloaded the balancer. Thread-safe.
    """

    def __init__(self, balancer: Balancer, min_interval: float = 0.2) -> None:
        self.balancer = balancer
        self.min_interval = min_interval
        self.applies = 0
        self.reloads = 0
        self.last_result: ApplyResult | None = None
        self._pending: Rendered | None = None
        self._busy = False
        self._closed = False
        self._last_apply = 0.0
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=f"debounce-{balancer.kind}", daemon=True)
        self._thread.start()

    def submit(self, rendered: Rendered) -> None:
        """Make ``rendered`` the next config to apply (the last one submitted wins)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the debouncer is closed")
            self._pending = rendered
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> ApplyResult | None:
        """Wait until the pending config (if any) has been applied; the last result, ``None`` if none yet."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the {self.balancer.kind} debouncer did not settle in {timeout} s")
                self._cond.wait(left)
            return self.last_result

    def close(self, timeout: float = 30.0) -> None:
        """Apply what is pending, then stop the background thread; idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                wait = self._last_apply + self.min_interval - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)  # more submits may arrive; the last one wins
                    continue
                rendered, self._pending = self._pending, None
                self._busy = True
            try:
                self._apply(rendered)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _apply(self, rendered: Rendered) -> None:
        if self.balancer.current_version() == rendered.version:
            return  # unchanged output: no reload, and no wait for the next one
        try:
            result = self.balancer.apply(rendered)
        except Exception as exc:  # the thread must survive a balancer that cannot run; report it
            result = ApplyResult(False, None, f"{self.balancer.kind}: {exc}", False, rendered.version)
        self._last_apply = time.monotonic()
        self.applies += 1
        self.reloads += int(result.reloaded)
        self.last_result = result
