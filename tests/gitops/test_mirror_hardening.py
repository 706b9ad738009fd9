"""Tests that hostile URLs, refs, hooks, submodules and the machine's git setup cannot subvert mirrors."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from shera.gitops.errors import BadRef, GitError, UnsafeURL
from shera.gitops.mirror import Mirrors
from tests.gitops.conftest import SourceRepo, git, quiet_env

MakeMirrors = Callable[..., Mirrors]
HOOKS = (
    "post-checkout",
    "reference-transaction",
    "post-merge",
    "post-rewrite",
    "pre-auto-gc",
    "post-index-change",
)


def write_hooks(directory: Path, marker: Path) -> None:
    """Executable hooks that each leave ``marker/<hook>`` behind when git runs them."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in HOOKS:
        hook = directory / name
        hook.write_text(f"#!/bin/sh\nmkdir -p '{marker}'\ntouch '{marker}/{name}'\n")
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def hostile_urls(marker: Path) -> list[str]:
    return [
        "ext::sh -c touch% /tmp/pwned",
        f"ext::sh -c touch% {marker}",
        f"ext::touch {marker}",
        f"--upload-pack=touch {marker}",
        f"--upload-pack=touch%20{marker}",
        f"-oProxyCommand=touch {marker}",
        f"ssh://-oProxyCommand=touch%20{marker}/repo",
        f"-oProxyCommand=touch%20{marker}@host:repo",
        f"fd::3/{marker}",
    ]


def test_hostile_urls_are_refused_before_git_runs(mirrors_factory: MakeMirrors, tmp_path: Path) -> None:
    mirrors = mirrors_factory("https", "ssh", "git", "file", "http")
    marker = tmp_path / "pwned"
    for url in hostile_urls(marker):
        with pytest.raises(UnsafeURL):
            mirrors.fetch(url)
        with pytest.raises(UnsafeURL):
            mirrors.checkout(url, "a" * 40, tmp_path / "ws")
        with pytest.raises(UnsafeURL):
            mirrors.resolve(url, "main")
        with pytest.raises(UnsafeURL):
            mirrors.changed_files(url, "a" * 40, "b" * 40)
    assert not marker.exists()
    assert not (tmp_path / "ws").exists()
    assert [p.name for p in (tmp_path / "mirrors").iterdir()] == [".home"]


def test_file_urls_and_local_paths_are_refused_unless_file_is_allowed(
    source: SourceRepo, mirrors_factory: MakeMirrors
) -> None:
    mirrors = mirrors_factory("https", "ssh", "git")
    for url in (source.url, str(source.path)):
        with pytest.raises(UnsafeURL, match="'file'"):
            mirrors.fetch(url)


def test_option_like_refs_and_shas_are_refused(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    mirrors = mirrors_factory("file")
    head = source.head()
    marker = tmp_path / "x"
    for ref in (f"--output={marker}", "-h", "main..other", "main@{1}", "main^", "a b", "HEAD~1"):
        with pytest.raises(BadRef):
            mirrors.checkout(source.url, ref, tmp_path / "ws")
        with pytest.raises(BadRef):
            mirrors.changed_files(source.url, ref, head)
        with pytest.raises(BadRef):
            mirrors.changed_files(source.url, head, ref)
    for ref in (f"--output={marker}", "--all", "main..other", "main@{1}", "main^", "a b", "x.lock"):
        with pytest.raises(BadRef):
            mirrors.resolve(source.url, ref)
    assert not marker.exists()
    assert not (tmp_path / "ws").exists()


def test_no_hook_runs_whether_from_the_source_the_mirror_or_the_machine(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirrors = mirrors_factory("file")
    mirror = mirrors.fetch(source.url)
    first, pushed = source.head(), source.commit({"n": "n\n"})
    marker = tmp_path / "hooks-ran"
    evil = tmp_path / "evil-hooks"
    write_hooks(evil, marker)
    # Given hooks in the source repository, in the mirror, and a hooksPath in the mirror's own config...
    write_hooks(source.path / ".git" / "hooks", marker)
    write_hooks(mirror / "hooks", marker)
    with (mirror / "config").open("a") as config:
        config.write(f"[core]\n\thooksPath = {evil}\n")
    # ...on a machine whose global config and template directory install hooks everywhere
    home = tmp_path / "machine-home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        f"[core]\n\thooksPath = {evil}\n[init]\n\ttemplateDir = {tmp_path / 'tpl'}\n"
    )
    write_hooks(tmp_path / "tpl" / "hooks", marker)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_TEMPLATE_DIR", str(tmp_path / "tpl"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    # (control: plain git on this machine runs them)
    git("clone", "--quiet", "--no-local", source.url, str(tmp_path / "control"), env=os.environ)
    assert (marker / "post-checkout").exists()
    for hook in marker.iterdir():
        hook.unlink()

    # When the mirror is updated, checked out and diffed
    mirrors.fetch(source.url)
    mirrors.checkout(source.url, pushed, tmp_path / "ws")
    assert mirrors.changed_files(source.url, first, pushed) == ["n"]

    # Then no hook ran, and the work tree got no hooks either
    assert list(marker.iterdir()) == []
    assert (tmp_path / "ws" / "n").exists()
    assert not (tmp_path / "ws" / ".git" / "hooks").exists()


def test_inherited_git_variables_do_not_redirect_commands(
    source: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker started from inside another repository's hook (GIT_DIR, GIT_WORK_TREE set)
    # and with an ssh command that would leave a marker
    bystander = tmp_path / "bystander"
    git("init", "--quiet", str(bystander), env=quiet_env(tmp_path))
    monkeypatch.setenv("GIT_DIR", str(bystander / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(bystander))
    monkeypatch.setenv("GIT_INDEX_FILE", str(bystander / "index"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.hookspath'='/nonexistent' 'protocol.allow'='always'")
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:ext")

    mirrors = mirrors_factory("file")
    mirrors.checkout(source.url, source.head(), tmp_path / "ws")

    assert (tmp_path / "ws" / "README").read_text() == "src\n"
    assert list(bystander.iterdir()) == [bystander / ".git"]
    assert git("--git-dir", str(bystander / ".git"), "for-each-ref", env=quiet_env(tmp_path)) == ""


@pytest.fixture
def with_submodule(make_repo: Callable[[str], SourceRepo], source: SourceRepo) -> SourceRepo:
    """``source`` with ``libs/sub`` a submodule pointing (file://) at repository ``sub``."""
    sub = make_repo("sub")
    source.git("-c", "protocol.file.allow=always", "submodule", "--quiet", "add", sub.url, "libs/sub")
    source.commit({}, "add submodule")
    return source


def test_submodules_are_not_fetched_unless_asked(
    with_submodule: SourceRepo, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    mirrors = mirrors_factory("file")

    mirrors.checkout(with_submodule.url, with_submodule.head(), tmp_path / "plain")
    assert list((tmp_path / "plain" / "libs" / "sub").iterdir()) == []
    assert not (tmp_path / "plain" / ".git" / "modules").exists()

    mirrors.checkout(with_submodule.url, with_submodule.head(), tmp_path / "deep", submodules=True)
    assert (tmp_path / "deep" / "libs" / "sub" / "README").read_text() == "sub\n"


def test_submodules_cannot_use_a_scheme_that_is_not_allowed(
    with_submodule: SourceRepo, git_daemon: str, mirrors_factory: MakeMirrors, tmp_path: Path
) -> None:
    # Given a repository served by git daemon whose submodule is a file:// URL, and only git allowed
    mirrors = mirrors_factory("git")
    dest = tmp_path / "ws"

    with pytest.raises(GitError, match="not allowed"):
        mirrors.checkout(f"{git_daemon}/src", with_submodule.head(), dest, submodules=True)

    assert not dest.exists()
