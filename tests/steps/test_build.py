"""``uses: build``: the with: model."""

from __future__ import annotations

from shera.steps.build import BuildSecret, BuildWith
from tests.steps.support import errors_of, one_error


def test_defaults_leave_tags_and_containerfile_to_the_runtime() -> None:
    build = BuildWith.model_validate({})
    assert (build.context, build.containerfile, build.tags, build.push) == (".", None, None, True)
    assert build.cache.registry is None


def test_a_full_build_is_read_as_written() -> None:
    build = BuildWith.model_validate(
        {
            "context": "app",
            "containerfile": "app/Containerfile",
            "target": "runtime",
            "build_args": {"BASE": "registry:5000/python:3.11", "WORKERS": 4, "DEBUG": False},
            "secrets": ["npm_token", {"id": "pip", "from_secret": "pip_conf"}],
            "repository": "registry:5000/team/app",
            "tags": ["${CI_COMMIT_SHA:0:8}", "latest"],
            "push": False,
            "cache": {"registry": "registry:5000/team/app-cache"},
            "labels": {"org.example.team": "web"},
        }
    )
    assert build.build_args == {"BASE": "registry:5000/python:3.11", "WORKERS": "4", "DEBUG": "false"}
    assert build.secrets == ["npm_token", BuildSecret(id="pip", from_secret="pip_conf")]
    assert build.tags == ["${CI_COMMIT_SHA:0:8}", "latest"]


def test_a_bad_tag_is_located_at_its_index_and_named() -> None:
    loc, kind, message = one_error(BuildWith, {"tags": ["latest", "-${CI_COMMIT_BRANCH}"]})
    assert (loc, kind) == (("tags", 1), "oci_tag")
    assert "'-${CI_COMMIT_BRANCH}'" in message


def test_containerfile_and_context_cannot_escape_the_workspace() -> None:
    errors = errors_of(BuildWith, {"context": "/srv", "containerfile": "../../etc/Containerfile"})
    assert {loc: kind for loc, kind, _ in errors} == {("context",): "path", ("containerfile",): "path"}
    assert any("'../../etc/Containerfile' escapes the workspace" in message for _, _, message in errors)


def test_repository_must_be_a_repository_without_tag() -> None:
    loc, _, message = one_error(BuildWith, {"repository": "registry:5000/Team/App:v1"})
    assert loc == ("repository",)
    assert "registry:5000/Team/App:v1" in message


def test_duplicate_secret_ids_and_bad_build_arg_names() -> None:
    errors = errors_of(
        BuildWith, {"secrets": ["a", {"id": "a", "from_secret": "b"}], "build_args": {"1X": "y"}}
    )
    kinds = {loc[0]: kind for loc, kind, _ in errors}
    assert kinds["secrets"] == "duplicate"
    assert kinds["build_args"] == "env_name"


def test_push_must_be_a_real_boolean() -> None:
    loc, kind, _ = one_error(BuildWith, {"push": "yes"})
    assert (loc, kind) == (("push",), "bool_type")
