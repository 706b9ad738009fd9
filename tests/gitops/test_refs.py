"""Tests of sha and ref-name checks (pure functions), compared with git's own check-ref-format."""

from __future__ import annotations

import subprocess

import pytest

from shera.gitops.errors import BadRef
from shera.gitops.refs import check_ref_name, check_sha, is_zero_sha, ref_problem

GOOD_NAMES = [
    "main",
    "feature/x-1",
    "release/v1.2.3",
    "refs/heads/main",
    "refs/tags/v1",
    "deadbeef",
    "a@b",
    "ü-ñ",
]
BAD_NAMES = [
    "",
    "--output=/tmp/x",
    "-b",
    "a..b",
    "a b",
    "a\tb",
    "a\x00b",
    "a\x7fb",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[b",
    "a\\b",
    "a@{1}",
    "@",
    "/a",
    "a/",
    "a//b",
    "a.",
    ".hidden",
    "a/.b",
    "x.lock",
    "a/x.lock/b",
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_valid_names_pass(name: str) -> None:
    assert check_ref_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_names_raise_bad_ref(name: str) -> None:
    with pytest.raises(BadRef, match="not a valid ref name"):
        check_ref_name(name)


@pytest.mark.parametrize("name", [n for n in GOOD_NAMES + BAD_NAMES if "\x00" not in n])
def test_agrees_with_git_check_ref_format(name: str) -> None:
    if name.startswith("-"):
        # git would read it as an option; She-Ra refuses a leading '-' everywhere.
        assert ref_problem(name) is not None
        return
    done = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", name], capture_output=True, check=False
    )
    assert (done.returncode == 0) == (ref_problem(name) is None), name


@pytest.mark.parametrize("sha", ["abcdef0", "a" * 40, "0123456789abcdef" * 4])
def test_shas_of_7_to_64_hex_pass(sha: str) -> None:
    assert check_sha(sha) == sha


@pytest.mark.parametrize(
    "sha", ["abcdef", "a" * 65, "ABCDEF01", "g" * 40, "--output=/tmp/x", "HEAD", "abc1234~1"]
)
def test_other_shas_raise_bad_ref(sha: str) -> None:
    with pytest.raises(BadRef, match="not a commit sha"):
        check_sha(sha)


def test_zero_sha() -> None:
    assert is_zero_sha("0" * 40)
    assert not is_zero_sha("")
    assert not is_zero_sha("0" * 39 + "1")
