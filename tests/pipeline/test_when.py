"""Tests for shera.pipeline.when (and the globs it uses): Woodpecker's ``when:`` semantics."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from shera.model.event import Event, EventKind
from shera.pipeline.expr import ExpressionError
from shera.pipeline.spec import Constraint, PathConstraint, WhenClause
from shera.pipeline.when import (
    MatchContext,
    clause_matches,
    constraint_matches,
    glob_problem,
    path_matches,
    run_statuses,
)

PUSH_MAIN = Event(kind=EventKind.PUSH, branch="main")


def _c(include: str | tuple[str, ...] = (), exclude: str | tuple[str, ...] = ()) -> Constraint:
    def as_tuple(value: str | tuple[str, ...]) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else value

    return Constraint(include=as_tuple(include), exclude=as_tuple(exclude))


# -- include / exclude lists (Woodpecker's constraint.List) ------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "value", "expected"),
    [
        (_c(), "anything", True),
        (_c("master"), "develop", False),
        (_c("master"), "master", True),
        (_c("feature/*"), "feature/foo", True),
        (_c("feature/*"), "feature/foo/bar", False),
        (_c("feature/**"), "feature/foo/bar", True),
        (_c(("master", "feature/*")), "develop", False),
        (_c(("master", "feature/*")), "master", True),
        (_c(("master", "feature/*")), "feature/foo", True),
        (_c(exclude="master"), "develop", True),
        (_c(exclude="master"), "master", False),
        (_c(exclude="feature/*"), "feature/foo", False),
        (_c(exclude=("master", "develop")), "master", False),
        (_c(exclude=("feature/*", "bar")), "master", True),
        (_c(("master", "feature/*"), "develop"), "master", True),
        (_c(("master", "feature/*"), "feature/bar"), "feature/bar", False),  # exclude wins
        (_c(("master", "feature/*"), ("master", "develop")), "master", False),
        (_c("release/{v1,v2}"), "release/v2", True),
        (_c("release/{v1,v2}"), "release/v3", False),
        (_c("v[0-9]*"), "v1.2", True),
        (_c("v[!0-9]*"), "v1.2", False),
        (_c("v[^0-9]*"), "vx", True),
        (_c("Main"), "main", False),  # case-sensitive
        (_c("*"), ".hidden", True),  # dots are not special
        (_c(r"a\*"), "a*", True),
        (_c(r"a\*"), "ab", False),
        (_c("feature/["), "feature/[", False),  # invalid glob: matches nothing, as doublestar
        (_c(exclude="feature/["), "feature/[", True),
    ],
)
def test_constraint_lists(constraint: Constraint, value: str, expected: bool) -> None:
    assert constraint_matches(constraint, value) is expected


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("feature/[", "'[' at character 9"),
        ("a[]b", "empty character class"),
        ("a[!]b", "empty character class"),
        ("[]a]x", "empty character class"),  # Go's path.Match reads "[]" as an empty class too
        ("{a,b", "'{' at character 1"),
        ("trailing\\", "lone '\\'"),
        ("x" * 2000, "longer than"),
        ("{a,b}" * 12, "too many alternatives"),
    ],
)
def test_glob_problem_reports_invalid_patterns(pattern: str, fragment: str) -> None:
    problem = glob_problem(pattern)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    "pattern", ["main", "feature/*", "refs/tags/v**", "**/*.c", "{a,b}/[xyz]", "a\\[b", "a}b", "x]", ""]
)
def test_glob_problem_accepts_valid_patterns(pattern: str) -> None:
    assert glob_problem(pattern) is None


def test_random_globs_never_crash() -> None:
    rng = random.Random(2)
    parts = ["a", "*", "**", "?", "[", "]", "{", "}", ",", "/", "\\", "!", "^", "-", "."]
    for _ in range(3000):
        pattern = "".join(rng.choice(parts) for _ in range(rng.randint(0, 15)))
        problem = glob_problem(pattern)
        matched = constraint_matches(Constraint(include=(pattern,)), "a/b.c")
        assert problem is None or not matched  # an invalid pattern never matches


# -- path (Woodpecker's constraint.Path) ---------------------------------------------------------------------


def _files(*names: str, message: str = "") -> Event:
    return Event(kind=EventKind.PUSH, changed_files=names, message=message)


@pytest.mark.parametrize(
    ("constraint", "event", "expected"),
    [
        (PathConstraint(), _files("CHANGELOG.md", "README.md"), True),
        (PathConstraint(include=("CHANGELOG.md",)), _files("CHANGELOG.md", "README.md"), True),
        (PathConstraint(include=("*.md",)), _files("CHANGELOG.md", "README.md"), True),
        (PathConstraint(include=("docs/*",)), _files("docs/README.md"), True),
        (PathConstraint(include=("docs/*",)), _files("docs/sub/README.md"), False),
        (PathConstraint(include=("docs/**",)), _files("docs/README.md", "docs/sub/README.md"), True),
        (PathConstraint(include=("docs/**",)), _files("README.md"), False),
        (PathConstraint(include=("README.md",)), _files("CHANGELOG.md"), False),
        (PathConstraint(exclude=("README.md",)), _files("design.md"), True),
        (PathConstraint(include=("*.md", "*.ini"), exclude=("CHANGELOG.md",)), _files("README.md"), True),
        (PathConstraint(include=("*.md",), exclude=("CHANGELOG.md",)), _files("CHANGELOG.md"), False),
        # exclude only rejects when every changed file is excluded
        (PathConstraint(exclude=("*.md",)), _files("README.md", "main.go"), True),
        (PathConstraint(exclude=("*.md", "docs/**")), _files("README.md", "docs/a/b.txt"), False),
        # ... and include then needs one matching file
        (
            PathConstraint(include=("*.md",), exclude=("CHANGELOG.md",)),
            _files("README.md", "CHANGELOG.md"),
            True,
        ),
        # ignore_message overrides the file lists, case-insensitively
        (
            PathConstraint(include=("README.md",), ignore_message="[ALL]"),
            _files("CHANGELOG.md", message="Build them [all]"),
            True,
        ),
        (
            PathConstraint(exclude=("*.php",), ignore_message="[ALL]"),
            _files("myfile.php", message="Build them [ALL]"),
            True,
        ),
        (PathConstraint(exclude=("*.php",), ignore_message="[ALL]"), _files("myfile.php"), False),
        # an empty commit gets on_empty
        (PathConstraint(include=("README.md",)), _files(), True),
        (PathConstraint(include=("README.md",), on_empty=False), _files(), False),
        # the forge did not say which files changed: the filter does not hold the pipeline back
        (PathConstraint(include=("README.md",), on_empty=False), Event(changed_files=None), True),
    ],
)
def test_path_constraints(constraint: PathConstraint, event: Event, expected: bool) -> None:
    assert path_matches(constraint, event) is expected


# -- clauses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "ctx", "expected"),
    [
        (WhenClause(), MatchContext(PUSH_MAIN), True),
        (WhenClause(branch=_c("develop")), MatchContext(PUSH_MAIN), False),
        (WhenClause(branch=_c("main")), MatchContext(PUSH_MAIN), True),
        # pull requests filter on their target branch
        (
            WhenClause(branch=_c("main")),
            MatchContext(Event(kind=EventKind.PULL_REQUEST, branch="main", source_branch="feat")),
            True,
        ),
        # tags have no branch: the branch filter is ignored
        (WhenClause(branch=_c("main")), MatchContext(Event(kind=EventKind.TAG, branch="x", tag="v1")), True),
        (WhenClause(event=_c("push")), MatchContext(PUSH_MAIN), True),
        (WhenClause(event=_c(("tag", "pull_request"))), MatchContext(PUSH_MAIN), False),
        (WhenClause(event=_c(exclude="push")), MatchContext(PUSH_MAIN), False),
        (WhenClause(event=_c(exclude="pull_request_closed")), MatchContext(PUSH_MAIN), True),
        (WhenClause(repo=_c("owner/*")), MatchContext(Event(repo="owner/repo")), True),
        (WhenClause(repo=_c("octocat/*")), MatchContext(Event(repo="owner/repo")), False),
        (WhenClause(ref=_c("refs/tags/*")), MatchContext(Event(kind=EventKind.TAG, tag="v1.0.0")), True),
        (WhenClause(ref=_c("refs/tags/*")), MatchContext(PUSH_MAIN), False),
        (WhenClause(ref=_c("refs/heads/main")), MatchContext(PUSH_MAIN), True),
        (
            WhenClause(ref=_c("refs/pull/*/head")),
            MatchContext(Event(kind=EventKind.PULL_REQUEST, pull_request=7)),
            True,
        ),
        (WhenClause(platform=_c("linux/*")), MatchContext(Event(platform="linux/arm64")), True),
        (WhenClause(platform=_c("linux/amd64")), MatchContext(Event(platform="windows/amd64")), False),
        (WhenClause(instance=_c("agent.tld")), MatchContext(Event(instance="agent.tld")), True),
        (WhenClause(instance=_c("agent.tld")), MatchContext(Event(instance="beta.agent.tld")), False),
        # cron names only count for cron events
        (WhenClause(cron=_c("job1")), MatchContext(Event(kind=EventKind.CRON, cron="job1")), True),
        (WhenClause(cron=_c("job2")), MatchContext(Event(kind=EventKind.CRON, cron="job1")), False),
        (WhenClause(cron=_c("job2")), MatchContext(PUSH_MAIN), True),
        # paths only count for push and pull request events
        (WhenClause(path=PathConstraint(include=("docs/**",))), MatchContext(_files("src/a.c")), False),
        (
            WhenClause(path=PathConstraint(include=("docs/**",))),
            MatchContext(Event(kind=EventKind.PULL_REQUEST, changed_files=("src/a.c",))),
            False,
        ),
        (
            WhenClause(path=PathConstraint(include=("docs/**",))),
            MatchContext(Event(kind=EventKind.TAG, tag="v1", changed_files=("src/a.c",))),
            True,
        ),
        # matrix values are globs; a missing axis is ""
        (WhenClause(matrix={"GO": "1.7"}), MatchContext(PUSH_MAIN, matrix={"GO": "1.7", "DB": "pg"}), True),
        (WhenClause(matrix={"GO": "tip"}), MatchContext(PUSH_MAIN, matrix={"GO": "1.7"}), False),
        (
            WhenClause(matrix={"GO": "1.7", "REDIS": "3.*"}),
            MatchContext(PUSH_MAIN, matrix={"GO": "1.7", "REDIS": "3.0"}),
            True,
        ),
        (WhenClause(matrix={"GO": "1.7"}), MatchContext(PUSH_MAIN), False),
        # evaluate sees ctx.env
        (
            WhenClause(evaluate='CI_PIPELINE_EVENT == "push"'),
            MatchContext(PUSH_MAIN, env={"CI_PIPELINE_EVENT": "push"}),
            True,
        ),
        (WhenClause(evaluate='TESTVAR == "testval"'), MatchContext(PUSH_MAIN, env={"TESTVAR": "qwe"}), False),
        # every set field must match
        (WhenClause(event=_c("push"), branch=_c("main"), repo=_c("x/y")), MatchContext(PUSH_MAIN), False),
        # status never decides a match
        (WhenClause(status=("failure",)), MatchContext(PUSH_MAIN), True),
    ],
)
def test_clause_matches(clause: WhenClause, ctx: MatchContext, expected: bool) -> None:
    assert clause_matches(clause, ctx) is expected


def test_a_bad_expression_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        clause_matches(WhenClause(evaluate="CI_REPO =="), MatchContext(PUSH_MAIN))


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ((), frozenset({"success"})),
        ((WhenClause(),), frozenset({"success"})),
        ((WhenClause(status=("failure",)),), frozenset({"failure"})),
        ((WhenClause(status=("success", "failure")),), frozenset({"success", "failure"})),
        ((WhenClause(branch=_c("develop")),), None),
        (
            (WhenClause(branch=_c("develop"), status=("failure",)), WhenClause(event=_c("push"))),
            frozenset({"success"}),
        ),
        ((WhenClause(status=("failure",)), WhenClause(event=_c("push"))), frozenset({"success", "failure"})),
        ((WhenClause(branch=_c("develop")), WhenClause(event=_c("tag"))), None),
    ],
)
def test_run_statuses(when: tuple[WhenClause, ...], expected: frozenset[str] | None) -> None:
    assert run_statuses(when, MatchContext(PUSH_MAIN)) == expected


# -- Woodpecker's own when-fixtures ----------------------------------------------------------------------


def _constraint(value: Any) -> Constraint:
    def strings(v: Any) -> tuple[str, ...]:
        return tuple(str(s) for s in v) if isinstance(v, list) else (str(v),) if v is not None else ()

    if isinstance(value, dict):
        return Constraint(include=strings(value.get("include")), exclude=strings(value.get("exclude")))
    return Constraint(include=strings(value))


def _clause(raw: dict[str, Any]) -> WhenClause:
    """A test-only reader for the fixture shapes (the real one is shera.pipeline.when_reader)."""
    fields: dict[str, Any] = {}
    for key in ("event", "branch", "ref", "cron", "repo", "instance", "platform"):
        if key in raw:
            fields[key] = _constraint(raw[key])
    if "status" in raw:
        fields["status"] = _constraint(raw["status"]).include
    if "matrix" in raw:
        fields["matrix"] = {k: str(v) for k, v in raw["matrix"].items()}
    if "evaluate" in raw:
        fields["evaluate"] = raw["evaluate"]
    if "path" in raw:
        path = raw["path"]
        if isinstance(path, dict):
            fields["path"] = PathConstraint(
                include=_constraint(path.get("include")).include,
                exclude=_constraint(path.get("exclude")).include,
                ignore_message=path.get("ignore_message"),
                on_empty=path.get("on_empty", True),
            )
        else:
            fields["path"] = PathConstraint(include=_constraint(path).include)
    return WhenClause(**fields)


def _when(raw: Any) -> tuple[WhenClause, ...]:
    return tuple(_clause(item) for item in (raw if isinstance(raw, list) else [raw]))


@pytest.fixture
def fixture_steps(corpus: Path) -> dict[str, tuple[WhenClause, ...]]:
    path = corpus / "pipelines" / "woodpecker-upstream-fixtures"
    [file] = path.glob("*test-when.yml")
    document = yaml.safe_load(file.read_text(encoding="utf-8"))
    steps = {name: _when(step["when"]) for name, step in document["steps"].items()}
    steps["<workflow>"] = _when(document["when"])
    return steps


CI_ENV = {"CI_PIPELINE_EVENT": "push", "CI_REPO": "owner/repo"}


@pytest.mark.parametrize(
    ("step", "ctx", "expected"),
    [
        ("<workflow>", MatchContext(PUSH_MAIN), {"success", "failure"}),
        ("when-branch", MatchContext(PUSH_MAIN), {"success"}),
        ("when-branch", MatchContext(Event(branch="develop")), None),
        ("when-branch", MatchContext(Event(kind=EventKind.TAG, branch="develop", tag="v1")), {"success"}),
        ("when-branch-array", MatchContext(Event(branch="deploy")), {"success"}),
        ("when-branch-array", MatchContext(Event(branch="other")), None),
        ("when-event", MatchContext(PUSH_MAIN), {"success"}),
        ("when-event", MatchContext(Event(branch="develop")), None),
        ("when-event", MatchContext(Event(branch="feature/login")), None),
        ("when-event", MatchContext(Event(kind=EventKind.PULL_REQUEST, branch="main")), None),
        ("when-event-array", MatchContext(Event(kind=EventKind.RELEASE)), {"success"}),
        ("when-event-array", MatchContext(Event(kind=EventKind.CRON, cron="nightly")), None),
        ("when-ref", MatchContext(Event(kind=EventKind.TAG, tag="v2.0")), {"success"}),
        ("when-ref", MatchContext(Event(kind=EventKind.TAG, tag="v1.2")), {"success"}),  # first item matches
        ("when-ref", MatchContext(Event(kind=EventKind.TAG, tag="release-1")), None),
        ("when-ref", MatchContext(PUSH_MAIN), None),
        ("when-status", MatchContext(PUSH_MAIN), {"success", "failure"}),
        ("when-platform", MatchContext(Event(platform="linux/amd64")), {"success"}),
        ("when-platform", MatchContext(Event(platform="linux/arm64")), None),
        ("when-platform-array", MatchContext(Event(platform="linux/arm64")), {"success"}),
        ("when-platform-array", MatchContext(Event(platform="windows/amd64")), {"success"}),
        ("when-platform-array", MatchContext(Event(platform="darwin/arm64")), None),
        ("when-environment", MatchContext(Event(kind=EventKind.DEPLOYMENT)), {"success"}),
        (
            "when-matrix",
            MatchContext(PUSH_MAIN, matrix={"GO_VERSION": "1.5", "REDIS_VERSION": "2.8"}),
            {"success"},
        ),
        ("when-matrix", MatchContext(PUSH_MAIN, matrix={"GO_VERSION": "1.5", "REDIS_VERSION": "3.0"}), None),
        ("when-instance", MatchContext(Event(instance="stage.woodpecker.company.com")), {"success"}),
        ("when-instance", MatchContext(Event(instance="woodpecker.company.com")), None),
        ("when-path", MatchContext(_files("folder/a/b.txt")), {"success"}),
        ("when-path", MatchContext(_files("other/a.txt")), None),
        ("when-path-array", MatchContext(_files("src/deep/x.c")), {"success"}),
        ("when-path-array", MatchContext(_files("src/deep/x.h")), None),
        ("when-path-include-exclude", MatchContext(_files(".woodpecker/build.yml")), {"success"}),
        ("when-path-include-exclude", MatchContext(_files("setup.ini", "README.md")), {"success"}),
        ("when-path-include-exclude", MatchContext(_files("README.md", "docs/x.ini")), None),
        ("when-path-include-exclude", MatchContext(_files("src/main.c")), None),
        ("when-path-include-exclude", MatchContext(_files("README.md", message="docs [all]")), {"success"}),
        ("when-path-include-exclude", MatchContext(_files()), {"success"}),
        ("when-repo", MatchContext(Event(repo="test/test")), {"success"}),
        ("when-repo", MatchContext(Event(repo="test/other")), None),
        ("when-multi", MatchContext(Event(kind=EventKind.PULL_REQUEST, repo="test/test")), {"success"}),
        ("when-multi", MatchContext(Event(kind=EventKind.PULL_REQUEST, repo="x/y")), None),
        ("when-multi", MatchContext(PUSH_MAIN), {"success"}),
        ("when-multi", MatchContext(Event(branch="dev")), None),
        ("when-cron", MatchContext(Event(kind=EventKind.CRON, cron="update locales")), {"success"}),
        ("when-cron", MatchContext(Event(kind=EventKind.CRON, cron="nightly")), None),
        ("when-cron", MatchContext(PUSH_MAIN), None),
        ("when-cron-list", MatchContext(Event(kind=EventKind.CRON, cron="hello")), {"success"}),
        ("when-cron-list", MatchContext(Event(kind=EventKind.CRON, cron="hi")), None),
        ("when-cron-list", MatchContext(Event(kind=EventKind.CRON, cron="other")), None),
        ("when-evaluate", MatchContext(PUSH_MAIN, env=CI_ENV), {"success"}),
        ("when-evaluate", MatchContext(PUSH_MAIN, env={**CI_ENV, "CI_REPO": "other/repo"}), None),
        ("when-evaluate", MatchContext(PUSH_MAIN), None),
    ],
)
def test_upstream_test_when_fixture(
    fixture_steps: dict[str, tuple[WhenClause, ...]], step: str, ctx: MatchContext, expected: set[str] | None
) -> None:
    statuses = run_statuses(fixture_steps[step], ctx)
    assert statuses == (None if expected is None else frozenset(expected))


@pytest.mark.parametrize(
    ("event", "env", "runs"),
    [
        (Event(branch="main", changed_files=("folder/x",)), {}, True),
        (Event(branch="main", changed_files=("README.md",)), {}, False),
        (Event(branch="feature", changed_files=("folder/x",)), {}, False),
        (Event(kind=EventKind.CRON, cron="hello"), {}, True),
        (Event(kind=EventKind.CRON, cron="bye"), {}, False),
        (Event(branch="feature"), {"CI_COMMIT_AUTHOR": "woodpecker-ci"}, True),
        # each evaluate item excludes a different event, so the other one still lets these through
        (Event(kind=EventKind.PULL_REQUEST_CLOSED), {"CI_COMMIT_AUTHOR": "woodpecker-ci"}, True),
        (Event(kind=EventKind.PULL_REQUEST_METADATA), {"CI_COMMIT_AUTHOR": "woodpecker-ci"}, True),
        (Event(kind=EventKind.PULL_REQUEST_CLOSED), {"CI_COMMIT_AUTHOR": "someone"}, False),
    ],
)
def test_upstream_test_pipeline_when_fixture(
    corpus: Path, event: Event, env: dict[str, str], runs: bool
) -> None:
    [file] = (corpus / "pipelines" / "woodpecker-upstream-fixtures").glob("*test-pipeline-when.yml")
    when = _when(yaml.safe_load(file.read_text(encoding="utf-8"))["when"])
    assert (run_statuses(when, MatchContext(event, env=env)) is not None) is runs
