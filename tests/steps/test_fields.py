"""The value types shared by the step kinds: durations, tag templates, paths, names."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shera.steps.fields import (
    Duration,
    Hostname,
    ImageRef,
    RelPath,
    Slug,
    TagTemplate,
    substitute_placeholders,
)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (120, 120.0),
        ("120", 120.0),
        ("120s", 120.0),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        (1.5, 1.5),
    ],
)
def test_duration_accepts_seconds_and_go_style_strings(written: object, seconds: float) -> None:
    assert TypeAdapter(Duration).validate_python(written) == seconds


@pytest.mark.parametrize("written", ["2 min", "m", "-5s", "", 0, -1, True])
def test_duration_rejects_other_spellings_and_non_positive(written: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Duration).validate_python(written)


@pytest.mark.parametrize(
    "tag", ["latest", "v1.2.3", "${CI_COMMIT_SHA:0:8}", "build-${CI_PIPELINE_NUMBER}", "$CI_COMMIT_TAG", "_x"]
)
def test_tag_templates_that_fill_to_oci_tags_are_accepted(tag: str) -> None:
    assert TypeAdapter(TagTemplate).validate_python(tag) == tag


@pytest.mark.parametrize("tag", ["-latest", ".hidden", "with space", "a/b", "x" * 129, "v${", "a:b"])
def test_tags_outside_the_oci_grammar_are_rejected_naming_the_tag(tag: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(TagTemplate).validate_python(tag)
    assert repr(tag) in str(caught.value)


def test_placeholders_are_replaced_before_the_grammar_check() -> None:
    assert substitute_placeholders("v${CI_COMMIT_SHA:0:8}-$CI_PIPELINE_NUMBER") == "vx-x"


@pytest.mark.parametrize("path", [".", "app", "docker/Containerfile", "a/../b", "./x"])
def test_relative_paths_inside_the_workspace_are_accepted(path: str) -> None:
    assert TypeAdapter(RelPath).validate_python(path) == path


@pytest.mark.parametrize(
    ("path", "reason"),
    [("../x", "escapes"), ("a/../../x", "escapes"), ("/etc/passwd", "absolute"), ("", "usable")],
)
def test_paths_leaving_the_workspace_are_rejected_lexically(path: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(RelPath).validate_python(path)
    assert reason in str(caught.value)


@pytest.mark.parametrize("name", ["web", "a", "hello-web-2", "x" * 63])
def test_slugs_are_rfc1123_labels(name: str) -> None:
    assert TypeAdapter(Slug).validate_python(name) == name


@pytest.mark.parametrize(
    "name", ["Web", "-web", "web-", "a_b", "a.b", "x" * 64, "a;}location/x{return 200 pwned;}#"]
)
def test_non_slugs_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Slug).validate_python(name)


def test_hostnames_are_dotted_slugs() -> None:
    assert TypeAdapter(Hostname).validate_python("web.team.example.org") == "web.team.example.org"
    for bad in ("Web.example.org", "web..org", "web.example.org.", "a{b}.org"):
        with pytest.raises(ValidationError):
            TypeAdapter(Hostname).validate_python(bad)


@pytest.mark.parametrize(
    "ref",
    ["busybox", "registry:5000/team/app:v1", "app@sha256:" + "a" * 64, "localhost/x/y:${CI_COMMIT_SHA:0:8}"],
)
def test_image_references(ref: str) -> None:
    assert TypeAdapter(ImageRef).validate_python(ref) == ref


@pytest.mark.parametrize("ref", ["Team/App", "app:-x", "app:tag@sha256:zz", "app with space"])
def test_bad_image_references(ref: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(ImageRef).validate_python(ref)
