"""Tests of bare mirrors and checkouts with real git: file:// URLs and a git daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from shera.errors import ConfigError
from shera.gitops.errors import BadRef, GitError
from shera.gitops.mirror import Mirrors
from tests.gitops.conftest import SourceRepo, git, quiet_env

MakeMirrors = Callable[..., Mirrors]


def refs_of(repo: Path, env: dict[str, str]) -> dict[str, str]:
    listing = git("--git-dir", str(repo), "for-each-ref", "--format=%(refname) %(objectname)", env=env)
    return dict(line.split(" ") for line in listing.splitlines())


def source_refs(source: SourceRepo) -> dict[str, str]:
    listing = source.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags")
    return dict(line.split(" ") for line in listing.splitlines())


def test_fetch_creates_a_bare_mirror_of_heads_and_tags_without_storing_the_url(
    source: SourceRepo, mirrors_factory: MakeMirrors
) -> None:
    # Given a repository with two branches and an annotated tag
    source.git("tag", "-a", "v1", "-m", "v1")
    source.git("branch", "dev")
    mirrors = mirrors_factory("file")

    # When it is fetched
    path = mirrors.fetch(source.url)

    # Then the mirror is bare, has exactly its heads and tags, and keeps no trace of the URL
    assert path.parent == mirrors.path_of(source.url).parent
    assert git("--git-dir", str(path), "rev-parse", "--is-bare-repository", env=source.env) == "true"
    assert refs_of(path, dict(source.env)) == source_refs(source)
    assert not (path / "FETCH_HEAD").exists()
    assert str(source.path) not in (path / "config").read_text()
    assert not (path / "hooks").exists()


def test_fetch_over_git_daemon_picks_up_pushes_and_prunes_deleted_branches(
    source: SourceRepo, git_daemon: str, mirrors_factory: MakeMirrors
) -> None:
    url = f"{git_daemon}/src"
    mirrors = mirrors_factory("git")
    source.git("branch", "doomed")
    path = mirrors.fetch(url)
    assert "refs/heads/doomed" in refs_of(path, dict(source.env))

    # When a new commit is pushed, a branch deleted and a tag added
    new = source.commit({"a.txt": "a\n"}, "second")
    source.git("branch", "-D", "doomed")
    source.git("tag", "v2")

    # Then the next fetch has the new state, the same directory
    assert mirrors.fetch(url) == path
    assert refs_of(path, dict(source.env)) == source_refs(source)
    assert refs_of(path, dict(source.env))["refs/heads/main"] == new


def test_checkout_gives_exactly_the_sha_detached(
    source: SourceRepo, git_daemon: str, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    first = source.head()
    source.commit({"later.txt": "later\n"}, "later")
    url = f"{git_daemon}/src"
    dest = tmp_path / "ws"

    mirrors_factory("git").checkout(url, first, dest)

    assert sorted(p.name for p in dest.iterdir()) == [".git", "README"]
    env = dict(source.env)
    assert git("-C", str(dest), "rev-parse", "HEAD", env=env) == first
    assert git("-C", str(dest), "rev-parse", "--abbrev-ref", "HEAD", env=env) == "HEAD"  # detached
    assert git("-C", str(dest), "status", "--porcelain", env=env) == ""
    assert git("-C", str(dest), "remote", "get-url", "origin", env=env) == url
    # the work tree is self-contained: history and tags are there for `git describe`-like steps
    assert git("-C", str(dest), "log", "--format=%s", "origin/main", env=env).splitlines() == [
        "later",
        "initial",
    ]


def test_checkout_fetches_a_sha_the_mirror_does_not_have_yet(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    mirrors = mirrors_factory("file")
    mirrors.fetch(source.url)
    pushed = source.commit({"new.txt": "new\n"})

    mirrors.checkout(source.url, pushed, tmp_path / "ws")

    assert (tmp_path / "ws" / "new.txt").read_text() == "new\n"


def test_checkout_of_a_commit_on_no_branch_fetches_it_by_sha(
    source: SourceRepo, git_daemon: str, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    # Given a pull request head that only a refs/pull ref holds (forks' commits look like this)
    source.git("checkout", "--quiet", "-b", "topic")
    pr_head = source.commit({"pr.txt": "pr\n"})
    source.git("update-ref", "refs/pull/1/head", pr_head)
    source.git("checkout", "--quiet", "main")
    source.git("branch", "-D", "topic")

    mirrors_factory("git").checkout(f"{git_daemon}/src", pr_head, tmp_path / "ws")

    assert (tmp_path / "ws" / "pr.txt").read_text() == "pr\n"


def test_checkout_of_an_unknown_sha_is_bad_ref_and_leaves_nothing(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    dest = tmp_path / "ws"
    with pytest.raises(BadRef, match="not found"):
        mirrors_factory("file").checkout(source.url, "1" * 40, dest)
    assert not dest.exists()


def test_checkout_refuses_a_non_empty_destination(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    dest = tmp_path / "ws"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    with pytest.raises(GitError, match="not empty"):
        mirrors_factory("file").checkout(source.url, source.head(), dest)
    assert [p.name for p in dest.iterdir()] == ["keep"]


def test_checkout_into_an_existing_empty_directory(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    dest = tmp_path / "ws"
    dest.mkdir()
    mirrors_factory("file").checkout(source.url, source.head()[:10], dest)
    assert (dest / "README").read_text() == "src\n"


def test_checkout_copies_objects_so_steps_cannot_reach_the_mirror(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    mirrors = mirrors_factory("file")
    mirrors.checkout(source.url, source.head(), tmp_path / "ws")
    objects = [p for p in (tmp_path / "ws" / ".git" / "objects").rglob("*") if p.is_file()]
    assert objects
    assert all(p.stat().st_nlink == 1 for p in objects)
    assert not (tmp_path / "ws" / ".git" / "objects" / "info" / "alternates").exists()


def test_checkout_keeps_symlinks_inside_the_work_tree(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    # Given a commit with a symlink pointing outside the repository
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), source.path / "escape")
    sha = source.commit({}, "symlink")

    mirrors_factory("file").checkout(source.url, sha, tmp_path / "ws")

    # Then the link is written as a link, and nothing is written through it
    assert (tmp_path / "ws" / "escape").is_symlink()
    assert list(outside.iterdir()) == []


def test_resolve_branches_tags_and_sha_prefixes(source: SourceRepo, mirrors_factory: MakeMirrors) -> None:
    first = source.head()
    source.git("tag", "-a", "v1", "-m", "annotated")
    second = source.commit({"b": "b\n"})
    source.git("branch", "release/1", first)
    mirrors = mirrors_factory("file")

    assert mirrors.resolve(source.url, "main") == second
    assert mirrors.resolve(source.url, "refs/heads/main") == second
    assert mirrors.resolve(source.url, "release/1") == first
    assert mirrors.resolve(source.url, "v1") == first  # the annotated tag is peeled to its commit
    assert mirrors.resolve(source.url, "refs/tags/v1") == first
    assert mirrors.resolve(source.url, first[:9]) == first
    with pytest.raises(BadRef, match="no branch or tag 'nope'"):
        mirrors.resolve(source.url, "nope")
    with pytest.raises(BadRef, match="not found"):
        mirrors.resolve(source.url, "abcdef1234")


def test_resolve_fetches_so_a_new_push_is_seen(source: SourceRepo, mirrors_factory: MakeMirrors) -> None:
    mirrors = mirrors_factory("file")
    assert mirrors.resolve(source.url, "main") == source.head()
    pushed = source.commit({"c": "c\n"})
    assert mirrors.resolve(source.url, "main") == pushed


def test_changed_files_between_two_commits(source: SourceRepo, mirrors_factory: MakeMirrors) -> None:
    before = source.commit({"keep.txt": "1\n", "edit.txt": "1\n", "gone.txt": "1\n", "old name": "x\n"})
    (source.path / "dir").mkdir()
    source.git("mv", "old name", "dir/new näme")
    after = source.commit({"edit.txt": "2\n", "gone.txt": None, "added.txt": "new\n"})

    changed = mirrors_factory("file").changed_files(source.url, before, after)

    assert changed is not None
    assert sorted(changed) == ["added.txt", "dir/new näme", "edit.txt", "gone.txt", "old name"]


def test_changed_files_is_none_when_before_is_unknown(
    source: SourceRepo, mirrors_factory: MakeMirrors
) -> None:
    mirrors = mirrors_factory("file")
    head = source.head()
    assert mirrors.changed_files(source.url, "0" * 40, head) is None
    assert mirrors.changed_files(source.url, "", head) is None
    assert mirrors.changed_files(source.url, "1" * 40, head) is None  # a force push: old commit gone
    assert mirrors.changed_files(source.url, head, head) == []
    with pytest.raises(BadRef):
        mirrors.changed_files(source.url, head, "2" * 40)


def test_concurrent_fetches_and_checkouts_from_threads_share_one_healthy_mirror(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    mirrors = mirrors_factory("file")
    shas = [source.commit({f"f{i}": f"{i}\n"}) for i in range(3)]
    results: list[object] = []

    def work(index: int) -> None:
        try:
            path = mirrors.fetch(source.url)
            mirrors.checkout(source.url, shas[index % 3], tmp_path / f"ws{index}")
            results.append(path)
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert results == [mirrors.path_of(source.url)] * 8
    git("--git-dir", str(mirrors.path_of(source.url)), "fsck", "--strict", env=dict(source.env))
    for index in range(8):
        head = git("-C", str(tmp_path / f"ws{index}"), "rev-parse", "HEAD", env=dict(source.env))
        assert head == shas[index % 3]


def test_concurrent_fetches_from_processes_share_one_healthy_mirror(
    source: SourceRepo, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from shera.gitops.mirror import Mirrors
        mirrors = Mirrors(Path(sys.argv[1]), frozenset({"file"}), timeout=60)
        for _ in range(3):
            print(mirrors.fetch(sys.argv[2]))
        """
    )
    root = tmp_path / "mirrors"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(root), source.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]

    assert [worker.returncode for worker in workers] == [0] * 4, outputs
    paths = {line for out, _ in outputs for line in out.splitlines()}
    assert len(paths) == 1
    mirror = Path(paths.pop())
    git("--git-dir", str(mirror), "fsck", "--strict", env=quiet_env(tmp_path))
    assert refs_of(mirror, dict(source.env)) == source_refs(source)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [".home", mirror.name, mirror.with_suffix(".lock").name]
    )


def test_a_half_made_mirror_is_rebuilt(source: SourceRepo, mirrors_factory: MakeMirrors) -> None:
    mirrors = mirrors_factory("file")
    broken = mirrors.path_of(source.url)
    broken.mkdir(parents=True)
    (broken / "junk").write_text("left by a crash")

    path = mirrors.fetch(source.url)

    assert not (path / "junk").exists()
    assert refs_of(path, dict(source.env)) == source_refs(source)


def test_unknown_schemes_in_settings_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown git schemes \\['ftp'\\]"):
        Mirrors(tmp_path, frozenset({"https", "ftp"}))


def test_missing_git_is_a_git_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitError, match="git is not installed"):
        Mirrors(tmp_path, frozenset({"https"}))


def test_the_empty_repository_of_another_live_process_is_kept_and_a_dead_ones_removed(
    source: SourceRepo, git_daemon: str, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    mirrors = mirrors_factory("git")
    root = mirrors.path_of(f"{git_daemon}/src").parent
    root.mkdir(parents=True, exist_ok=True)
    # Given the empty repositories of another process still running and of one that is gone,
    alive = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    kept, stale = root / f".empty.{alive.pid}.aaaa", root / f".empty.{dead.pid}.bbbb"
    for path in (kept, stale):
        (path / ".git").mkdir(parents=True)
        (path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    try:
        # a checkout (which makes this process's own) leaves the live one alone and removes the other.
        dest = tmp_path / "ws"
        mirrors.checkout(f"{git_daemon}/src", source.head(), dest)
        assert git("-C", str(dest), "status", "--porcelain", env=dict(source.env)) == ""
        assert kept.is_dir() and not stale.exists()
    finally:
        alive.kill()
        alive.wait()
