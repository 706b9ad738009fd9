"""Deploy repository: one commit per write, other apps untouched, older files restorable, writes serialized
across threads and processes by the file lock, a remote fetched from and pushed to (file:// here)."""

from __future__ import annotations

import multiprocessing
import subprocess
import threading
from pathlib import Path

import pytest

from shera.gitops.deployrepo import DeployRepo, app_dir
from shera.gitops.errors import GitError
from tests.gitops.conftest import git, quiet_env


def test_first_commit_creates_the_bare_repository(tmp_path: Path) -> None:
    repo = DeployRepo(tmp_path / "deploy.git")
    assert repo.head() is None and repo.files("web", "prod") == {} and repo.log() == []

    done = repo.commit("web", "prod", {"release.json": b"{}\n"}, "web/prod: release 1")

    assert (tmp_path / "deploy.git" / "HEAD").is_file() and done.push_error is None
    assert repo.head() == done.sha
    bare = git(
        "--git-dir",
        str(tmp_path / "deploy.git"),
        "rev-parse",
        "--is-bare-repository",
        env=quiet_env(tmp_path),
    )
    assert bare == "true"


def test_each_commit_replaces_only_its_app_directory(tmp_path: Path) -> None:
    repo = DeployRepo(tmp_path / "deploy.git")
    first = repo.commit("web", "prod", {"a.json": b"1", "release.json": b"r1"}, "web 1").sha
    repo.commit("api", "prod", {"x.json": b"x"}, "api 1")

    repo.commit("web", "prod", {"b.json": b"2", "release.json": b"r2"}, "web 2")

    assert repo.files("web", "prod") == {"b.json": b"2", "release.json": b"r2"}
    assert repo.files("api", "prod") == {"x.json": b"x"}
    assert repo.files("web", "prod", first) == {"a.json": b"1", "release.json": b"r1"}
    assert [c.subject for c in repo.log("web", "prod")] == ["web 2", "web 1"]
    assert [c.subject for c in repo.log()] == ["web 2", "api 1", "web 1"]


def test_restoring_older_files_is_a_new_commit(tmp_path: Path) -> None:
    repo = DeployRepo(tmp_path / "deploy.git")
    v1 = repo.commit("web", "prod", {"d.json": b"v1"}, "release 1").sha
    repo.commit("web", "prod", {"d.json": b"v2"}, "release 2")

    restored = repo.commit("web", "prod", repo.files("web", "prod", v1), "release 3 (rollback to 1)")

    assert restored.sha != v1 and len(repo.log("web", "prod")) == 3
    assert repo.files("web", "prod") == {"d.json": b"v1"}


def test_remove_deletes_the_directory_in_a_commit(tmp_path: Path) -> None:
    repo = DeployRepo(tmp_path / "deploy.git")
    repo.commit("web", "prod", {"d.json": b"v1"}, "release 1")

    repo.remove("web", "prod", "web/prod: deleted")

    assert repo.files("web", "prod") == {} and len(repo.log()) == 2


def test_bad_names_never_reach_a_path(tmp_path: Path) -> None:
    repo = DeployRepo(tmp_path / "deploy.git")
    with pytest.raises(GitError):
        app_dir("../etc", "prod")
    with pytest.raises(GitError):
        repo.commit("web", "prod", {"../x": b""}, "m")
    with pytest.raises(GitError):
        repo.commit("web", "prod", {".git": b""}, "m")


def test_concurrent_writers_in_threads_all_land(tmp_path: Path) -> None:
    repo = DeployRepo(tmp_path / "deploy.git")

    def write(index: int) -> None:
        repo.commit(f"app{index}", "prod", {"n.json": str(index).encode()}, f"app{index}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(repo.log()) == 8
    assert all(repo.files(f"app{i}", "prod") == {"n.json": str(i).encode()} for i in range(8))


def _write_in_process(path: str, index: int) -> None:
    DeployRepo(Path(path)).commit(f"p{index}", "prod", {"n.json": b"x"}, f"p{index}")


def test_concurrent_writers_in_processes_all_land(tmp_path: Path) -> None:
    path = str(tmp_path / "deploy.git")
    DeployRepo(Path(path)).commit("seed", "prod", {"n.json": b"x"}, "seed")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_in_process, args=(path, i)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert len(DeployRepo(Path(path)).log()) == 5


def test_a_remote_is_fetched_and_pushed(tmp_path: Path) -> None:
    env = quiet_env(tmp_path)
    remote = tmp_path / "remote.git"
    git("init", "--bare", "-q", "-b", "main", str(remote), env=env)
    one = DeployRepo(tmp_path / "one" / "deploy.git", remote=remote.as_uri())
    two = DeployRepo(tmp_path / "two" / "deploy.git", remote=remote.as_uri())

    first = one.commit("web", "prod", {"d.json": b"1"}, "from one")
    second = two.commit("api", "prod", {"d.json": b"2"}, "from two")  # fetches one's commit first

    assert first.push_error is None and second.push_error is None
    pushed = git("--git-dir", str(remote), "log", "--format=%s", "main", env=env).splitlines()
    assert pushed == ["from two", "from one"]
    assert two.files("web", "prod") == {"d.json": b"1"}


def test_an_unreachable_remote_keeps_the_local_commit(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    repo = DeployRepo(tmp_path / "deploy.git", remote=remote.as_uri(), timeout=10)
    subprocess.run(["git", "init", "--bare", "-q", str(remote)], check=True, env=quiet_env(tmp_path))
    assert repo.commit("web", "prod", {"d.json": b"1"}, "one").push_error is None
    remote.rename(tmp_path / "gone.git")  # the remote is unreachable now

    done = repo.commit("web", "prod", {"d.json": b"2"}, "two")

    assert done.push_error is not None and "fetch" in done.push_error
    assert repo.files("web", "prod") == {"d.json": b"2"}
