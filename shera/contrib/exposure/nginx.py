"""Contrib layer (exposure): a private nginx serving one zone, driven through ``ManagedBalancer``.

nginx runs in the foreground (``daemon off``) with its own prefix (the state directory), config file and
error log: ``nginx -p STATE/ -c STATE/nginx.conf -e STATE/error.log``. Candidates are checked with
``nginx -t`` on the same prefix; a reload is ``SIGHUP`` to the master (it re-reads the file, starts new
workers, and lets the old ones finish their requests); stop is ``SIGQUIT`` (graceful), by pid. When She-Ra
runs as root the workers run as ``worker_user`` (root by default, so they can use the private prefix).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from shera.contrib.exposure.errors import BalancerUnavailable
from shera.contrib.exposure.model import ZoneConfig
from shera.contrib.exposure.probe import pid_alive
from shera.contrib.exposure.process import ManagedBalancer
from shera.contrib.exposure.render import Rendered, render_nginx


class NginxBalancer(ManagedBalancer):
    """nginx for ``zone`` under ``state_dir``; ``listen`` serves until an applied config says else."""

    kind = "nginx"
    config_name = "nginx.conf"
    failure_marker = "[emerg]"
    failure_detail = "[emerg]"

    def __init__(
        self,
        state_dir: Path,
        *,
        zone: str = "public",
        listen: str = "127.0.0.1:8080",
        binary: str = "nginx",
        verify_timeout: float = 5.0,
        worker_user: str = "root",
    ) -> None:
        super().__init__(state_dir, zone=zone, listen=listen, binary=binary, verify_timeout=verify_timeout)
        self.worker_user = worker_user
        self.error_log = self.state_dir / "error.log"
        self.failure_log = self.error_log

    def initial(self) -> Rendered:
        return render_nginx(ZoneConfig(zone=self.zone, listen=self.listen))

    def _base_argv(self, config: Path) -> list[str]:
        (self.state_dir / "tmp").mkdir(parents=True, exist_ok=True)
        return [self._binary(), "-p", f"{self.state_dir}/", "-c", str(config), "-e", str(self.error_log)]

    def _globals(self) -> str:
        user = f" user {self.worker_user};" if os.geteuid() == 0 else ""
        return f"daemon off;{user}"

    def validate(self, path: Path) -> str | None:
        argv = [*self._base_argv(path), "-g", self._globals(), "-t", "-q"]
        return self._check(argv, path)

    def launch_argv(self) -> list[str]:
        return [*self._base_argv(self.live), "-g", self._globals()]

    def reload(self, pid: int) -> None:
        self._signal(pid, signal.SIGHUP)

    def retired(self, pid: int) -> bool:
        """An old worker closes its listeners when it starts shutting down (its title says so), which the
        master asks for only 100 ms after the new workers start."""
        return not pid_alive(pid, "worker process") or pid_alive(pid, "is shutting down")

    def stop_signal(self) -> signal.Signals:
        return signal.SIGQUIT

    def dump(self) -> str:
        """``nginx -T`` of the live file: the configuration exactly as nginx parsed it."""
        argv = [*self._base_argv(self.live), "-g", self._globals(), "-T", "-q"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise BalancerUnavailable(f"nginx -T failed: {done.stderr.strip()}")
        return done.stdout
