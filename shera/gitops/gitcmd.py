"""Adapters layer (gitops): the one hardened way She-Ra runs git (through GitPython), and error translation.

Every command runs with an environment built from nothing (``env -i``), so neither the machine's
git configuration nor stray ``GIT_*`` variables of the worker (``GIT_DIR`` from a hook, a
``GIT_SSH_COMMAND``, ``GIT_TEMPLATE_DIR``) can change what it does:

- ``HOME`` is a private directory; no system or global config (``GIT_CONFIG_NOSYSTEM``,
  ``GIT_CONFIG_GLOBAL=/dev/null``); no prompts (``GIT_TERMINAL_PROMPT=0``, empty ``GIT_ASKPASS``);
- command-scope config (``GIT_CONFIG_COUNT``; it outranks any repository's own config):
  ``protocol.allow=never`` plus ``protocol.<scheme>.allow=always`` for the allowed schemes only, so
  neither a redirect nor a submodule can switch to another transport (``ext::`` is never allowed);
  ``core.hooksPath=/dev/null`` (no hook ever runs); no submodule recursion; ``core.fsmonitor`` off;
  no credential helper; incoming objects fsck-checked; automatic gc in the foreground (never a
  detached background process).

GitPython's exceptions never leave this module: failures become ``GitError`` (permanent) or
``GitUnavailable`` (network trouble, timeouts), with git's stderr trimmed and URL credentials
redacted. ``GitRunner`` holds no mutable state and is safe to share between threads.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from git import Git
from git.exc import GitError as GitPythonError

from shera.gitops.errors import GitError, GitUnavailable
from shera.gitops.urls import SCHEMES, redact

DEFAULT_SSH_COMMAND = "ssh -o BatchMode=yes"
"""Never asks for a password or an unknown host key; operators may pass their own (keys, known_hosts)."""

PASS_THROUGH = (
    "PATH",
    "TMPDIR",
    "TZ",
    "SSH_AUTH_SOCK",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
)
"""The only variables taken from the worker's environment: where programs are, proxies and CAs."""

# Remote failures a retry cannot fix; any other failure of a network command is temporary.
_PERMANENT_REMOTE = (
    "not found",
    "does not appear to be a git repository",
    "no such repository",
    "not exported",
    "access denied",
    "authentication failed",
    "permission denied",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "not our ref",
    "couldn't find remote ref",
    "not allowed",
    "fsck",
    "returned error: 40",
    "returned error: 410",
    "host key verification failed",
)
_MAX_DETAIL = 1000


def hardened_config(allowed: frozenset[str]) -> list[tuple[str, str]]:
    """The command-scope config every git command gets (see the module docstring)."""
    pairs = [("protocol.allow", "never")]
    pairs += [(f"protocol.{scheme}.allow", "always") for scheme in sorted(allowed & SCHEMES)]
    pairs += [
        ("core.hooksPath", os.devnull),
        ("submodule.recurse", "false"),
        ("fetch.recurseSubmodules", "false"),
        ("core.fsmonitor", "false"),
        ("core.askPass", ""),
        ("credential.helper", ""),
        ("transfer.fsckObjects", "true"),
        ("gc.autoDetach", "false"),
        ("maintenance.autoDetach", "false"),
        ("advice.detachedHead", "false"),
        ("init.defaultBranch", "main"),
    ]
    return pairs


def config_env(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``GIT_CONFIG_COUNT``/``KEY_n``/``VALUE_n`` for ``pairs``; later pairs win for single-valued keys."""
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def hardened_env(
    home: Path,
    allowed: frozenset[str],
    *,
    ssh_command: str = DEFAULT_SSH_COMMAND,
    base: Mapping[str, str] | None = None,
    extra_config: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    """The complete environment of a git command (nothing else is inherited; see the module docstring)."""
    source = os.environ if base is None else base
    env = {name: source[name] for name in PASS_THROUGH if name in source}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        LC_ALL="C",
        LANGUAGE="C",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_SYSTEM=os.devnull,
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        SSH_ASKPASS_REQUIRE="never",
        GIT_PROTOCOL_FROM_USER="0",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_SSH_COMMAND=ssh_command,
    )
    env.update(config_env([*hardened_config(allowed), *extra_config]))
    return env


@dataclass(frozen=True)
class Completed:
    """A finished git command: exit status and raw output (stdout bytes: paths need not be UTF-8)."""

    status: int
    stdout: bytes
    stderr: str


def trim(stderr: str) -> str:
    """git's stderr for a message: hints dropped, credentials redacted, the last lines only."""
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith("hint:")]
    text = redact("\n".join(lines[-10:]))
    return text if len(text) <= _MAX_DETAIL else "..." + text[-_MAX_DETAIL:]


class GitRunner:
    """Runs git commands in the hardened environment, with a timeout on each."""

    def __init__(
        self,
        home: Path,
        allowed: frozenset[str],
        *,
        timeout: float,
        ssh_command: str = DEFAULT_SSH_COMMAND,
    ) -> None:
        git_path, env_path = shutil.which("git"), shutil.which("env")
        if git_path is None or env_path is None:
            raise GitError("git is not installed (apt-get install git)")
        self._argv0 = (env_path, "-i")
        self._git = git_path
        self._home = home
        self._allowed = allowed
        self._ssh_command = ssh_command
        self._env = hardened_env(home, allowed, ssh_command=ssh_command)
        self.timeout = timeout

    def run(
        self,
        args: Sequence[str],
        *,
        what: str,
        network: bool = False,
        allow_failure: bool = False,
        extra_config: Sequence[tuple[str, str]] = (),
    ) -> Completed:
        """Run ``git <args>``; ``what`` names the operation in error messages (no secrets in it).

        A non-zero status raises (``GitUnavailable`` for a ``network`` command that failed for a
        reason other than a permanent remote answer, else ``GitError``) unless ``allow_failure``.
        A timeout always raises ``GitUnavailable``. Paths in ``args`` must be absolute: the
        working directory is the private home, and repositories are named with ``--git-dir``/``-C``.
        """
        env = self._env
        if extra_config:
            env = hardened_env(
                self._home, self._allowed, ssh_command=self._ssh_command, extra_config=extra_config
            )
        argv = [*self._argv0, *(f"{key}={value}" for key, value in env.items()), self._git, *args]
        started = time.monotonic()
        try:
            status, stdout, stderr = Git(str(self._home)).execute(
                argv,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                kill_after_timeout=self.timeout,
            )
        except (GitPythonError, OSError) as exc:
            raise GitError(f"{what}: cannot run git: {exc}") from exc
        text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else str(stderr)
        if status == 0 or (allow_failure and status > 0):
            return Completed(status, stdout, text)
        if status < 0 and time.monotonic() - started >= self.timeout:
            raise GitUnavailable(f"{what}: timed out after {self.timeout:g} s")
        detail = trim(text) or f"git exited with status {status}"
        if network and not any(marker in detail.lower() for marker in _PERMANENT_REMOTE):
            raise GitUnavailable(f"{what}: {detail}")
        raise GitError(f"{what}: {detail}")
