"""Contrib layer (exposure): a private haproxy serving one zone, driven through ``ManagedBalancer``.

haproxy runs in master-worker mode in the foreground:
``haproxy -W -f STATE/haproxy.cfg -p STATE/haproxy.pid``.
Candidates are checked with ``haproxy -c -f``; a reload is ``SIGUSR2`` to the master, which re-executes
itself on the (already swapped) live file, starts a new worker on the same listening sockets and lets the
old worker finish its connections (bounded by ``hard-stop-after``); stop is ``SIGUSR1`` (soft stop), by pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from shera.contrib.exposure.errors import BalancerUnavailable
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

    def _binary(self) -> str:
        found = shutil.which(self.binary)
        if found is None:
            raise BalancerUnavailable(
                f"haproxy is not installed ({self.binary} not found; apt-get install haproxy)"
            )
        return found

    def validate(self, path: Path) -> str | None:
        argv = [self._binary(), "-c", "-f", str(path)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode == 0:
            return None
        output = (done.stderr + done.stdout).strip().replace(str(path), path.name)
        return output or f"{self.kind} exited with {done.returncode} and no message"

    def launch_argv(self) -> list[str]:
        return [self._binary(), "-W", "-f", str(self.live), "-p", str(self.pid_file)]

    def reload(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGUSR2)
        except ProcessLookupError as exc:
            raise BalancerUnavailable(f"haproxy (pid {pid}) is gone") from exc

    def stop_signal(self) -> signal.Signals:
        return signal.SIGUSR1
