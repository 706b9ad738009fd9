"""Tests for shera.pipeline.substitute: Woodpecker's ``${VAR}`` pre-processing (drone/envsubst rules)."""

from __future__ import annotations

import pytest

from shera.pipeline.substitute import SubstitutionError, substitute, substitute_value

VARS = {
    "CI_COMMIT_SHA": "eba09b46064473a1d345da7abf28b477468e8dbd",
    "CI_COMMIT_TAG": "v1.10.3",
    "CI_REPO_OWNER": "John-Doe",
    "FILE": "bash.string.txt",
    "PATH_": "/home/bozo/ideas/thoughts.for.today",
    "REL": "path/to/file",
    "Z": "abcABC123ABCabc",
    "SLASHED": "foo/bar/baz",
    "DEFAULT": "foo1",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("${CI_COMMIT_SHA}", "eba09b46064473a1d345da7abf28b477468e8dbd"),
        ("tag-${CI_COMMIT_TAG}-x", "tag-v1.10.3-x"),
        ("${UNKNOWN}", ""),
        ("echo $HOME $CI_COMMIT_TAG", "echo $HOME $CI_COMMIT_TAG"),
        ("echo $${HOME}", "echo ${HOME}"),
        ("cost $$5", "cost $5"),
        ("${#CI_COMMIT_TAG}", "7"),
        ("${CI_REPO_OWNER,,}", "john-doe"),
        ("${CI_REPO_OWNER^^}", "JOHN-DOE"),
        ("${CI_REPO_OWNER,}", "john-Doe"),
        ("${CI_COMMIT_SHA:0:8}", "eba09b46"),
        ("${PATH_:11}", "ideas/thoughts.for.today"),
        ("${CI_COMMIT_TAG##v}", "1.10.3"),
        ("${CI_COMMIT_TAG%%.*}", "v1"),
        ("${CI_COMMIT_TAG%.*}", "v1.10"),
        ("${FILE#*.}", "string.txt"),
        ("${REL##*/}", "file"),
        ("${Z/abc/xyz}", "xyzABC123ABCabc"),
        ("${Z//abc/xyz}", "xyzABC123ABCxyz"),
        ("${Z/#abc/XYZ}", "XYZABC123ABCabc"),
        ("${Z/%abc/XYZ}", "abcABC123ABCXYZ"),
        (r"${SLASHED//\//-}", "foo-bar-baz"),
        ("${MISSING=nightly}", "nightly"),
        ("${MISSING:-master}", "master"),
        ("${CI_COMMIT_TAG:-master}", "v1.10.3"),
        ("${MISSING=pre${DEFAULT}-post}", "prefoo1-post"),
        ("$${MISSING=${DEFAULT}}", "${MISSING=foo1}"),
    ],
)
def test_substitute_follows_envsubst(text: str, expected: str) -> None:
    assert substitute(text, VARS) == expected


@pytest.mark.parametrize("text", ["${{ secrets.TOKEN }}", "${!ref}", "${arr[0]}", "echo ${UNCLOSED", "${}"])
def test_bad_substitution_is_refused_with_the_text(text: str) -> None:
    with pytest.raises(SubstitutionError, match="bad substitution") as info:
        substitute(text, VARS)
    assert repr(text) in str(info.value)


def test_values_are_inserted_verbatim_never_evaluated() -> None:
    # Given a variable whose value looks like more substitutions and shell code
    variables = {"EVIL": "${CI_COMMIT_SHA} $(rm -rf /) `id`"}
    # Then it is inserted as text: substitution does not recurse into values
    assert substitute("x=${EVIL}", {**VARS, **variables}) == "x=${CI_COMMIT_SHA} $(rm -rf /) `id`"


def test_substitute_value_walks_settings_but_not_keys() -> None:
    settings = {"tags": ["latest", "${CI_COMMIT_TAG}"], "${KEY}": {"nested": "${CI_REPO_OWNER}"}, "n": 3}
    assert substitute_value(settings, VARS) == {
        "tags": ["latest", "v1.10.3"],
        "${KEY}": {"nested": "John-Doe"},
        "n": 3,
    }
