"""Tests of shera/deploy/podman/state.py: per app/environment JSON state, atomic and locked updates."""

from __future__ import annotations

import threading
from pathlib import Path

from shera.deploy.podman.state import AppState, StateStore


def test_missing_state_is_empty_and_saved_state_reads_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path)

    state = store.load("acme", "web", "prod")
    assert state["revision"] is None and state["instances"] == {}

    state["revision"] = 3
    state["instances"]["x"] = {"ports": {"8080": 4100}, "serving": True}
    store.save(state)

    assert store.load("acme", "web", "prod") == state
    assert store.all_ports() == {4100}
    assert sorted(p.name for p in store.path("acme", "web", "prod").parent.iterdir()) == ["prod.json"]


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path)

    def add(index: int) -> None:
        def change(state: AppState) -> None:
            state["instances"][f"i{index}"] = {"ports": {"80": 5000 + index}}

        store.update("acme", "web", "prod", change)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(store.load("acme", "web", "prod")["instances"]) == 20


def test_remove_forgets_the_app(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.update("acme", "web", "prod", lambda s: s.update(revision=1))

    store.remove("acme", "web", "prod")

    assert store.load("acme", "web", "prod")["revision"] is None
