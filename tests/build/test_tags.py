"""Tags of a build: OCI sanitizing, defaults per event, semver expansion."""

from __future__ import annotations

import pytest

from shera.build.tags import (
    OCI_TAG,
    branch_slug,
    default_tags,
    image_tags,
    repository_component,
    sanitize_tag,
    semver_tags,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("v1.2.3", "v1.2.3"),
        ("feature/login", "feature-login"),
        ("-leading.dots", "leading.dots"),
        (".hidden", "hidden"),
        ("a b+c@d", "a-b-c-d"),
        ("x" * 200, "x" * 128),
        ("", None),
        ("///", None),
    ],
)
def test_sanitize_tag_yields_the_oci_grammar_or_none(raw: str, expected: str | None) -> None:
    tag = sanitize_tag(raw)
    assert tag == expected
    if tag is not None:
        assert OCI_TAG.match(tag)


def test_branch_slug_is_lowercase_and_dashed() -> None:
    assert branch_slug("Feature/Login_Page") == "feature-login_page"
    assert branch_slug("release/2.x/") == "release-2.x"
    assert branch_slug("///") is None


def test_semver_tag_gives_version_minor_and_major() -> None:
    assert semver_tags("v1.4.2") == ["1.4.2", "1.4", "1"]
    assert semver_tags("2.0.0") == ["2.0.0", "2.0", "2"]


def test_prerelease_gets_only_its_full_version() -> None:
    assert semver_tags("v1.5.0-rc.1") == ["1.5.0-rc.1"]
    assert semver_tags("v1.5.0+build.7") == ["1.5.0-build.7", "1.5", "1"]
    assert semver_tags("release-7") == []


def test_default_branch_push_gets_short_sha_slug_and_latest() -> None:
    tags = default_tags(sha=SHA, branch="main", default_branch="main")
    assert tags == ["01234567", "main", "latest"]


def test_other_branch_gets_no_latest() -> None:
    assert default_tags(sha=SHA, branch="feature/x", default_branch="main") == ["01234567", "feature-x"]


def test_git_tag_gets_semver_tags_and_no_branch_or_latest() -> None:
    tags = default_tags(sha=SHA, branch="main", git_tag="v3.1.0", default_branch="main")
    assert tags == ["01234567", "3.1.0", "3.1", "3"]


def test_non_semver_git_tag_is_used_sanitized() -> None:
    assert default_tags(sha=SHA, git_tag="nightly/42") == ["01234567", "nightly-42"]


def test_pull_request_gets_pr_tag_never_the_target_branch_or_latest() -> None:
    tags = default_tags(sha=SHA, branch="main", default_branch="main", pull_request=12)
    assert tags == ["01234567", "pr-12"]


def test_image_tags_dedupes_and_reports_empty_templates() -> None:
    tags, empty = image_tags(["01234567", "feature/x", "", "01234567"])
    assert tags == ["01234567", "feature-x"]
    assert empty == [""]


def test_repository_component() -> None:
    assert repository_component("Team Blue") == "team-blue"
    assert repository_component("My_App.v2") == "my-app-v2"
    assert repository_component("!!!") == "x"
