"""Contrib layer (exposure): a private haproxy serving one zone, driven through ``ManagedBalancer``.

haproxy runs in master-worker mode in the foreground:
``haproxy -W -f STATE/haproxy.cfg -p STATE/haproxy.pid``.
Candidates are checked with ``haproxy -c -f``; a reload is ``SIGUSR2`` to the master, which re-executes
itself on the (already swapped) live file, starts a new worker on the same listening sockets and lets the
old worker finish its connections (bounded by ``hard-stop-after``); stop is ``SIGUSR1`` (soft stop), by pid.
"""

from __future__ import annotations

import signal
from pathlib import Path

from shera.contrib.exposure.model import ZoneConfig
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.render import Rendered, render_haproxy


class HaproxyBalancer(ManagedBalancer):
    """haproxy for ``zone`` under ``state_dir``; ``listen`` serves until an applied config says else."""

    kind = "haproxy"
    config_name = "haproxy.cfg"
    failure_marker = "Loading failure!"
    failure_detail = "[ALERT]"

    def __init__(
        self,
        state_dir: Path,
        *,
        zone: str = "public",
        listen: str = "127.0.0.1:8080",
        binary: str = "haproxy",
        verify_timeout: float = 5.0,
    ) -> None:
        super().__init__(state_dir, zone=zone, listen=listen, binary=binary, verify_timeout=verify_timeout)

    def initial(self) -> Rendered:
        return render_haproxy(ZoneConfig(zone=self.zone, listen=self.listen))

    def validate(self, path: Path) -> str | None:
        argv = [self._binary(), "-c", "-f", str(path)]
        return self._check(argv, path)

    def launch_argv(self) -> list[str]:
        return [self._binary(), "-W", "-f", str(self.live), "-p", str(self.pid_file)]

    def reload(self, pid: int) -> None:
        self._signal(pid, signal.SIGUSR2)

    def stop_signal(self) -> signal.Signals:
        return signal.SIGUSR1
