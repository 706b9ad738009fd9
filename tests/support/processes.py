"""Test support: whether a process is alive, and stopping a child process that a test (or a benchmark)
started, by its own handle."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """Stops ``process`` if it still runs: SIGTERM, then SIGKILL when it has not exited within ``timeout``
    seconds. Waits for it either way and returns its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    code: int = process.returncode
    return code


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (zombies never reaped by this machine's PID 1 count as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
