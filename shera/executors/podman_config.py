"""Executors layer: the private podman configuration She-Ra writes for itself (pure builders + one writer).

She-Ra never depends on the machine's podman setup: every podman call it makes gets ``CONTAINERS_CONF``,
``CONTAINERS_STORAGE_CONF``, ``CONTAINERS_REGISTRIES_CONF`` and ``REGISTRY_AUTH_FILE`` pointing at files
under its own data directory. The builders return TOML text and are tested as data; ``write_config``
writes them (idempotently) and returns the environment variables that select them.

Why each setting (see ENVIRONMENT.md): crun cannot run here, so ``runtime = "runc"`` with
``cgroup_manager = "cgroupfs"``; rlimits must be explicit and not above the host's hard limits; the
``file`` events logger needs no journald; ``lock_type = "file"`` and a private ``tmp_dir`` keep this store's
locks and state out of the machine-wide ``/dev/shm/libpod_lock`` and ``/run/libpod`` (a deleted test store
would otherwise leak shared locks).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ULIMIT = 16384

CONFIG_VARS = (
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "REGISTRY_AUTH_FILE",
)


def _toml_str(value: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(value)


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def host_ulimit(kind: int, wanted: int = DEFAULT_ULIMIT) -> int:
    """``wanted`` lowered to the host's hard limit for ``kind`` (a ``resource.RLIMIT_*``)."""
    _soft, hard = resource.getrlimit(kind)
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def containers_conf(*, tmp_dir: Path, nofile: int, nproc: int) -> str:
    """``containers.conf``: runc + cgroupfs, file events and locks, explicit rlimits."""
    ulimits = [f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"]
    return (
        "[containers]\n"
        f"default_ulimits = {_toml_list(ulimits)}\n"
        'log_driver = "k8s-file"\n'
        "\n"
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        'lock_type = "file"\n'
        f"tmp_dir = {_toml_str(str(tmp_dir))}\n"
    )


def storage_conf(*, graphroot: Path, runroot: Path) -> str:
    """``storage.conf``: the overlay driver with the image store under She-Ra's own directories."""
    return (
        "[storage]\n"
        'driver = "overlay"\n'
        f"graphroot = {_toml_str(str(graphroot))}\n"
        f"runroot = {_toml_str(str(runroot))}\n"
    )


def registries_conf(
    *,
    search: Sequence[str] = (),
    insecure: Sequence[str] = (),
    blocked: Sequence[str] = (),
) -> str:
    """``registries.conf``: short names resolve in ``search`` (none by default: a short name means a local
    image, nothing is pulled from a registry nobody named); ``insecure`` registries (``127.0.0.1:PORT``)
    are reached over plain HTTP; ``blocked`` prefixes are never pulled (a missing image fails at once)."""
    lines = [f"unqualified-search-registries = {_toml_list(search)}", 'short-name-mode = "permissive"']
    for location in insecure:
        lines += ["", "[[registry]]", f"location = {_toml_str(location)}", "insecure = true"]
    for prefix in blocked:
        lines += [
            "",
            "[[registry]]",
            f"prefix = {_toml_str(prefix)}",
            f"location = {_toml_str(prefix)}",
            "blocked = true",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class ConfigPaths:
    """Where one private podman configuration lives; ``env`` selects it for podman and buildah."""

    root: Path

    @property
    def containers_conf(self) -> Path:
        return self.root / "containers.conf"

    @property
    def storage_conf(self) -> Path:
        return self.root / "storage.conf"

    @property
    def registries_conf(self) -> Path:
        return self.root / "registries.conf"

    @property
    def auth_file(self) -> Path:
        return self.root / "auth.json"

    @property
    def graphroot(self) -> Path:
        return self.root / "storage"

    @property
    def runroot(self) -> Path:
        """Transient state (locks, sockets) in a short directory named after ``root``.

        slirp4netns puts an API socket in the runroot and a socket path must stay under 108 bytes, which a
        runroot inside a deep data directory (or pytest's temp dir) exceeds.
        """
        digest = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:12]
        base = Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir())  # noqa: S108
        return base / f"shera-{digest}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "CONTAINERS_CONF": str(self.containers_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
            "REGISTRY_AUTH_FILE": str(self.auth_file),
        }


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$SHERA_DATA_DIR``, else ``~/.local/share/shera``."""
    environ = os.environ if environ is None else environ
    configured = environ.get("SHERA_DATA_DIR")
    return Path(configured) if configured else Path.home() / ".local" / "share" / "shera"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def write_config(
    root: Path,
    *,
    insecure: Sequence[str] = (),
    blocked: Sequence[str] = (),
) -> ConfigPaths:
    """Write (or refresh) a complete private podman configuration under ``root``; idempotent.

    The auth file is created as ``{}`` only when missing (podman refuses to start if it names a missing file,
    and logins stored in it must survive).
    """
    paths = ConfigPaths(root)
    root.mkdir(parents=True, exist_ok=True)
    paths.runroot.mkdir(mode=0o700, exist_ok=True)
    nofile = host_ulimit(resource.RLIMIT_NOFILE)
    nproc = host_ulimit(resource.RLIMIT_NPROC)
    _write_if_changed(
        paths.containers_conf,
        containers_conf(tmp_dir=paths.runroot / "libpod", nofile=nofile, nproc=nproc),
    )
    _write_if_changed(paths.storage_conf, storage_conf(graphroot=paths.graphroot, runroot=paths.runroot))
    _write_if_changed(paths.registries_conf, registries_conf(insecure=insecure, blocked=blocked))
    if not paths.auth_file.exists():
        paths.auth_file.write_text("{}\n")
        paths.auth_file.chmod(0o600)
    return paths


def podman_environment(data_dir: Path | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for podman calls: ``base`` (default ``os.environ``) with She-Ra's private config.

    The configuration lives in ``<data_dir>/podman``; ``data_dir`` defaults to ``default_data_dir()``, read
    from She-Ra's own environment (not from ``base``), and so does ``SHERA_INSECURE_REGISTRIES`` (the
    registries reached over plain HTTP, e.g. the private registry of ``shera up``).
    """
    base = dict(os.environ if base is None else base)
    insecure = [
        part.strip() for part in os.environ.get("SHERA_INSECURE_REGISTRIES", "").split(",") if part.strip()
    ]
    paths = write_config((data_dir or default_data_dir()) / "podman", insecure=sorted(insecure))
    return {**base, **paths.env}
