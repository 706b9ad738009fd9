"""Tests of She-Ra's private podman configuration: the TOML builders as data, the writer on disk."""

from __future__ import annotations

import resource
import tomllib
from pathlib import Path

import pytest

from shera.executors.podman_config import (
    containers_conf,
    default_data_dir,
    host_ulimit,
    podman_environment,
    registries_conf,
    storage_conf,
    write_config,
)


def test_containers_conf_selects_runc_cgroupfs_file_events_and_explicit_ulimits() -> None:
    conf = tomllib.loads(containers_conf(tmp_dir=Path("/d/run/libpod"), nofile=1024, nproc=2048))
    assert conf["engine"] == {
        "runtime": "runc",
        "cgroup_manager": "cgroupfs",
        "events_logger": "file",
        "lock_type": "file",
        "tmp_dir": "/d/run/libpod",
    }
    assert conf["containers"]["default_ulimits"] == ["nofile=1024:1024", "nproc=2048:2048"]


def test_storage_conf_is_overlay_under_the_given_roots_and_paths_are_escaped() -> None:
    odd = Path('/data/with "quote" and \\ backslash')
    conf = tomllib.loads(storage_conf(graphroot=odd / "g", runroot=Path("/r")))
    assert conf["storage"] == {"driver": "overlay", "graphroot": str(odd / "g"), "runroot": "/r"}


def test_registries_conf_lists_insecure_and_blocked_registries() -> None:
    conf = tomllib.loads(registries_conf(insecure=("127.0.0.1:5000",), blocked=("localhost/test",)))
    assert conf["unqualified-search-registries"] == []
    assert {"location": "127.0.0.1:5000", "insecure": True} in conf["registry"]
    assert {"prefix": "localhost/test", "location": "localhost/test", "blocked": True} in conf["registry"]


def test_ulimits_never_exceed_the_hosts_hard_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert host_ulimit(resource.RLIMIT_NOFILE, wanted=10**9) == hard
    assert host_ulimit(resource.RLIMIT_NOFILE, wanted=1) == 1


def test_write_config_is_idempotent_and_keeps_the_auth_file(tmp_path: Path) -> None:
    paths = write_config(tmp_path / "podman")
    assert paths.auth_file.read_text() == "{}\n"
    assert paths.auth_file.stat().st_mode & 0o777 == 0o600
    paths.auth_file.write_text('{"auths": {"r": {}}}')
    before = paths.containers_conf.stat().st_mtime_ns

    again = write_config(tmp_path / "podman")
    assert again == paths
    assert paths.auth_file.read_text() == '{"auths": {"r": {}}}'
    assert paths.containers_conf.stat().st_mtime_ns == before
    storage = tomllib.loads(paths.storage_conf.read_text())["storage"]
    assert storage["graphroot"] == str(tmp_path / "podman" / "storage")
    assert paths.env == {
        "CONTAINERS_CONF": str(paths.containers_conf),
        "CONTAINERS_STORAGE_CONF": str(paths.storage_conf),
        "CONTAINERS_REGISTRIES_CONF": str(paths.registries_conf),
        "REGISTRY_AUTH_FILE": str(paths.auth_file),
    }


def test_the_data_dir_comes_from_shera_data_dir_or_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_data_dir({"SHERA_DATA_DIR": "/srv/shera"}) == Path("/srv/shera")
    assert default_data_dir({}) == Path.home() / ".local" / "share" / "shera"

    monkeypatch.setenv("SHERA_DATA_DIR", str(tmp_path))
    env = podman_environment(base={"PATH": "/bin", "CONTAINERS_CONF": "/etc/elsewhere"})
    assert env["PATH"] == "/bin"
    assert env["CONTAINERS_CONF"] == str(tmp_path / "podman" / "containers.conf")
    assert Path(env["REGISTRY_AUTH_FILE"]).is_file()
