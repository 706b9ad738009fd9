"""Per-project image storage: its own configuration under the data dir, a lock between runs, private files."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shera.build.errors import BuildInterrupted
from shera.build.store import ImageStore, store_name, write_private


def test_store_lives_under_data_dir_images_project(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "proj42")
    env = store.env(["127.0.0.1:5000"], base={"PATH": "/usr/bin"})
    assert store.root == tmp_path / "images" / "proj42"
    storage = Path(env["CONTAINERS_STORAGE_CONF"]).read_text()
    assert f'graphroot = "{store.root}/config/storage"' in storage
    assert 'driver = "overlay"' in storage
    assert 'runtime = "runc"' in Path(env["CONTAINERS_CONF"]).read_text()
    registries = Path(env["CONTAINERS_REGISTRIES_CONF"]).read_text()
    assert 'location = "127.0.0.1:5000"' in registries and "insecure = true" in registries
    assert Path(env["REGISTRY_AUTH_FILE"]).read_text().strip() == "{}"
    assert env["PATH"] == "/usr/bin"


def test_projects_get_separate_stores(tmp_path: Path) -> None:
    assert ImageStore(tmp_path, "a").root != ImageStore(tmp_path, "b").root


def test_unsafe_project_names_become_safe_directory_names() -> None:
    assert store_name("local") == "local"
    for name in ("../../etc", "a/b", ".", ""):
        safe = store_name(name)
        assert "/" not in safe and safe not in (".", "..", "")
    assert store_name("a/b") != store_name("a-b")


def test_lock_makes_a_second_holder_wait(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "p")
    order: list[str] = []
    with store.locked():
        thread = threading.Thread(target=lambda: _take(store, order))
        thread.start()
        time.sleep(0.5)
        order.append("first released")
    thread.join(5)
    assert order == ["first released", "second acquired"]


def _take(store: ImageStore, order: list[str]) -> None:
    with store.locked():
        order.append("second acquired")


def test_lock_held_by_another_process_blocks_and_cancel_interrupts(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "p")
    store.root.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(store.root / 'lock')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(BuildInterrupted) as timed_out, store.locked(timeout=0.5):
            pass
        assert timed_out.value.reason == "timeout"
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        with pytest.raises(BuildInterrupted) as cancelled, store.locked(cancel=cancel):
            pass
        assert cancelled.value.reason == "cancelled"
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with store.locked(timeout=2):  # released when its holder died
        pass


def test_private_files_are_0600_in_a_0700_dir_removed_after(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "p")
    with store.private_dir("build-") as directory:
        path = write_private(directory, "secret", "s3cret")
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == "s3cret"
    assert not directory.exists()
