"""Tests for shera.pipeline.planner: spec + event -> Plan, the way Woodpecker plans a pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shera.errors import PipelineError
from shera.model.event import Event, EventKind
from shera.model.plan import Plan, StepKind, WorkflowPlan
from shera.pipeline.loader import load_path
from shera.pipeline.planner import build_plan, skips_ci
from shera.pipeline.spec import Dependency, PipelineSpec, StepSpec, WorkflowSpec
from shera.pipeline.yamlload import Pos
from shera.plugins import Registry

PUSH = Event(kind=EventKind.PUSH, branch="main")


def plan_of(tmp_path: Path, files: dict[str, str], event: Event = PUSH, **kwargs: Any) -> Plan:
    """Write a repository of pipeline files, load it as ``shera`` does, plan it."""
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return build_plan(load_path(tmp_path, registry=Registry()), event, **kwargs)


def names(workflow: WorkflowPlan) -> list[list[str]]:
    return [[step.name for step in stage] for stage in workflow.stages]


def only(plan: Plan) -> WorkflowPlan:
    assert len(plan.workflows) == 1
    return plan.workflows[0]


STEPS = """
steps:
  - name: a
    image: alpine
    commands: [echo a]
  - name: b
    image: alpine
    commands: [echo b]
  - name: c
    image: alpine
    commands: [echo c]
"""


# -- staging ------------------------------------------------------------------------------------------------


def test_without_depends_on_steps_run_one_per_stage_after_the_clone(tmp_path: Path) -> None:
    workflow = only(plan_of(tmp_path, {".woodpecker.yml": STEPS}))
    assert names(workflow) == [["clone"], ["a"], ["b"], ["c"]]
    assert workflow.stages[0][0].kind is StepKind.CLONE
    assert workflow.steps[1].commands == ("echo a",)


def test_depends_on_makes_topological_stages_in_file_order(tmp_path: Path) -> None:
    text = """
skip_clone: true
steps:
  - name: lint
    image: alpine
    commands: [true]
  - name: test
    image: alpine
    commands: [true]
    depends_on: [build]
  - name: build
    image: alpine
    commands: [true]
  - name: docs
    image: alpine
    commands: [true]
    depends_on: []
  - name: deploy
    image: alpine
    commands: [true]
    depends_on: [test, docs]
"""
    workflow = only(plan_of(tmp_path, {".woodpecker.yml": text}))
    # steps without depends_on start at once; inside a stage, file order
    assert names(workflow) == [["lint", "build", "docs"], ["test"], ["deploy"]]
    assert workflow.steps[-1].depends_on == ("test", "docs")


def test_an_empty_depends_on_runs_everything_in_parallel(tmp_path: Path) -> None:
    text = STEPS.replace("commands: [echo a]", "commands: [echo a]\n    depends_on: []")
    assert names(only(plan_of(tmp_path, {".woodpecker.yml": text}))) == [["clone"], ["a", "b", "c"]]


def _step(name: str, *deps: str) -> StepSpec:
    return StepSpec(
        name=name,
        pos=Pos("w.yml", 1, 1),
        image="alpine",
        commands=("true",),
        depends_on=tuple(Dependency(dep) for dep in deps),
    )


@pytest.mark.timeout(5)
def test_a_cycle_that_escaped_lint_is_an_error_not_a_hang() -> None:
    # Given a spec built by hand (no linter ran) with a -> b -> c -> b
    workflow = WorkflowSpec(
        name="w", file="w.yml", pos=Pos("w.yml", 1, 1), skip_clone=True,
        steps=[_step("a"), _step("b", "a", "c"), _step("c", "b")],
    )  # fmt: skip
    with pytest.raises(PipelineError) as info:
        build_plan(PipelineSpec(workflows=[workflow]), PUSH)
    [problem] = info.value.problems
    assert problem.kind == "cycle"
    assert "b -> c -> b" in problem.message


def test_lint_errors_refuse_to_plan_and_carry_every_problem(tmp_path: Path) -> None:
    text = """
steps:
  - name: a
    image: alpine
    commands: [true]
    depends_on: [b]
  - name: b
    image: alpine
    commands: [true]
    depends_on: [a]
"""
    with pytest.raises(PipelineError) as info:
        plan_of(tmp_path, {".woodpecker.yml": text})
    assert {problem.kind for problem in info.value.problems if problem.is_error} == {"cycle"}


# -- matrix -------------------------------------------------------------------------------------------------


def test_matrix_axes_expand_to_the_cross_product_with_substitution(tmp_path: Path) -> None:
    text = """
skip_clone: true
matrix:
  GO_VERSION: ["1.21", "1.22"]
  DB: [postgres, mysql]
steps:
  - name: test
    image: golang:${GO_VERSION}
    environment:
      DATABASE: ${DB}
      LITERAL: $${DB}
    commands:
      - go test -tags ${DB} ./...
"""
    plan = plan_of(tmp_path, {".woodpecker.yml": text})
    rows = [dict(workflow.matrix) for workflow in plan.workflows]
    assert rows == [
        {"GO_VERSION": "1.21", "DB": "postgres"},
        {"GO_VERSION": "1.21", "DB": "mysql"},
        {"GO_VERSION": "1.22", "DB": "postgres"},
        {"GO_VERSION": "1.22", "DB": "mysql"},
    ]
    step = plan.workflows[3].steps[0]
    assert step.image == "golang:1.22"
    assert step.commands == ("go test -tags mysql ./...",)
    assert step.environment == {"DATABASE": "mysql", "LITERAL": "${DB}"}
    assert plan.workflows[3].environment["GO_VERSION"] == "1.22"


def test_matrix_include_gives_exactly_its_rows(tmp_path: Path) -> None:
    text = """
skip_clone: true
matrix:
  include:
    - NODE: "18"
      TAG: lts
    - NODE: "22"
steps:
  - name: test
    image: node:${NODE}
    commands:
      - echo ${TAG}
"""
    plan = plan_of(tmp_path, {".woodpecker.yml": text})
    assert [dict(w.matrix) for w in plan.workflows] == [{"NODE": "18", "TAG": "lts"}, {"NODE": "22"}]
    assert [w.steps[0].image for w in plan.workflows] == ["node:18", "node:22"]
    # an axis missing from a row substitutes as empty, as in Woodpecker
    assert plan.workflows[1].steps[0].commands == ("echo ",)


def test_matrix_filters_steps_per_row(tmp_path: Path) -> None:
    text = """
skip_clone: true
matrix:
  OS: [linux, windows]
steps:
  - name: build
    image: alpine
    commands: [true]
  - name: sign
    image: alpine
    commands: [true]
    when:
      matrix:
        OS: windows
"""
    linux, windows = plan_of(tmp_path, {".woodpecker.yml": text}).workflows
    assert linux.skipped_steps == ("sign",)
    assert names(windows) == [["build"], ["sign"]]


# -- when ---------------------------------------------------------------------------------------------------

WHEN = """
skip_clone: true
steps:
  - name: always
    image: alpine
    commands: [true]
  - name: on-main
    image: alpine
    commands: [true]
    when:
      branch: ${CI_REPO_DEFAULT_BRANCH}
  - name: on-pr
    image: alpine
    commands: [true]
    when:
      event: pull_request
  - name: docs-changed
    image: alpine
    commands: [true]
    when:
      path: "docs/**"
  - name: release
    image: alpine
    commands: [true]
    when:
      event: tag
      ref: refs/tags/v*
  - name: notify
    image: alpine
    commands: [true]
    when:
      status: [failure]
"""


@pytest.mark.parametrize(
    ("event", "runs"),
    [
        (Event(kind=EventKind.PUSH, branch="main"), ["always", "on-main", "docs-changed", "notify"]),
        (Event(kind=EventKind.PUSH, branch="dev"), ["always", "docs-changed", "notify"]),
        (Event(kind=EventKind.PUSH, branch="main", changed_files=("src/a.py",)),
         ["always", "on-main", "notify"]),
        (Event(kind=EventKind.PUSH, branch="main", changed_files=("docs/x.md",)),
         ["always", "on-main", "docs-changed", "notify"]),
        (Event(kind=EventKind.PULL_REQUEST, branch="main", pull_request=3),
         ["always", "on-main", "on-pr", "docs-changed", "notify"]),
        # a tag has no branch and no changed files: those filters do not apply to it
        (Event(kind=EventKind.TAG, tag="v1.0.0"), ["always", "on-main", "docs-changed", "release", "notify"]),
        (Event(kind=EventKind.TAG, tag="nightly"), ["always", "on-main", "docs-changed", "notify"]),
    ],
)  # fmt: skip
def test_step_when_filters_branch_event_path_and_tag(tmp_path: Path, event: Event, runs: list[str]) -> None:
    workflow = only(plan_of(tmp_path, {".woodpecker.yml": WHEN}, event))
    assert [step.name for step in workflow.steps] == runs
    every = ["always", "on-main", "on-pr", "docs-changed", "release", "notify"]
    assert list(workflow.skipped_steps) == [name for name in every if name not in runs]


def test_status_failure_steps_run_only_after_a_failure(tmp_path: Path) -> None:
    workflow = only(plan_of(tmp_path, {".woodpecker.yml": WHEN}))
    by_name = {step.name: step for step in workflow.steps}
    assert by_name["notify"].run_on == frozenset({"failure"})
    assert by_name["always"].run_on == frozenset({"success"})


def test_workflow_when_skips_the_whole_workflow_but_keeps_its_steps_for_display(tmp_path: Path) -> None:
    text = "when:\n  event: tag\n" + STEPS
    workflow = only(plan_of(tmp_path, {".woodpecker.yml": text}))
    assert workflow.skipped
    assert workflow.stages == ()
    assert workflow.skipped_steps == ("a", "b", "c")


@pytest.mark.parametrize("message", ["fix typo [SKIP CI]", "docs [ci skip]", "x [Skip  CI] y", "[CI SKIP]"])
def test_skip_ci_in_the_message_skips_every_workflow(tmp_path: Path, message: str) -> None:
    files = {".woodpecker/a.yml": STEPS, ".woodpecker/b.yml": STEPS}
    plan = plan_of(tmp_path, files, Event(kind=EventKind.PUSH, message=message))
    assert [w.skipped for w in plan.workflows] == [True, True]


def test_skip_ci_only_applies_to_pushes_and_pull_requests() -> None:
    assert skips_ci(Event(kind=EventKind.PULL_REQUEST, message="[skip ci]"))
    assert not skips_ci(Event(kind=EventKind.TAG, tag="v1", message="[skip ci]"))
    assert not skips_ci(Event(kind=EventKind.MANUAL, message="[skip ci]"))
    assert not skips_ci(Event(kind=EventKind.PUSH, message="skip ci"))


# -- step kinds and fields ----------------------------------------------------------------------------------


def test_step_kinds_settings_secrets_and_flags(tmp_path: Path) -> None:
    text = """
services:
  - name: db
    image: postgres:16
    environment:
      POSTGRES_PASSWORD:
        from_secret: db_password
steps:
  - name: build
    image: golang
    commands: [go build]
    failure: ignore
    environment:
      TOKEN:
        from_secret: api_token
      MODE: release-${CI_COMMIT_BRANCH}
  - name: server
    image: nginx
    detach: true
  - name: publish
    image: woodpeckerci/plugin-docker-buildx
    settings:
      repo: example/app
      tags: [latest, "${CI_COMMIT_SHA:0:8}"]
      dry-run: true
      build_args:
        A: "1"
      password:
        from_secret: registry_password
"""
    event = Event(kind=EventKind.PUSH, branch="main", commit="abcdef0123456789" + "0" * 24)
    workflow = only(plan_of(tmp_path, {".woodpecker.yml": text}, event))
    [service] = workflow.services
    assert service.kind is StepKind.SERVICE
    assert service.secrets == {"POSTGRES_PASSWORD": "db_password"}
    build, server, publish = workflow.steps[1:]
    assert build.kind is StepKind.COMMANDS
    assert build.failure_ignore
    assert build.secrets == {"TOKEN": "api_token"}
    assert build.environment == {"MODE": "release-main"}
    assert server.kind is StepKind.PLUGIN
    assert server.detach
    assert publish.kind is StepKind.PLUGIN
    assert publish.environment == {
        "PLUGIN_REPO": "example/app",
        "PLUGIN_TAGS": "latest,abcdef01",
        "PLUGIN_DRY_RUN": "true",
        "PLUGIN_BUILD_ARGS": '{"A":"1"}',
    }
    assert publish.secrets == {"PLUGIN_PASSWORD": "registry_password"}


def test_uses_steps_keep_their_with_substituted() -> None:
    step = StepSpec(
        name="deploy", pos=Pos("w.yml", 3, 5), uses="deploy",
        with_={"image": "registry/app:${CI_COMMIT_SHA:0:7}", "replicas": 2},
    )  # fmt: skip
    workflow = WorkflowSpec(name="w", file="w.yml", pos=Pos("w.yml", 1, 1), steps=[step], skip_clone=True)
    plan = build_plan(PipelineSpec(workflows=[workflow]), Event(commit="1234567" + "0" * 33))
    [planned] = only(plan).steps
    assert planned.kind is StepKind.USES
    assert planned.uses == "deploy"
    assert planned.with_ == {"image": "registry/app:1234567", "replicas": 2}
    assert (planned.file, planned.line) == ("w.yml", 3)


def test_tag_events_clone_tags_and_custom_clone_replaces_the_default(tmp_path: Path) -> None:
    plan = plan_of(tmp_path / "a", {".woodpecker.yml": STEPS}, Event(kind=EventKind.TAG, tag="v1"))
    assert only(plan).steps[0].environment == {"PLUGIN_DEPTH": "0", "PLUGIN_TAGS": "true"}
    custom = "clone:\n  - name: git\n    image: my/git\n    settings:\n      depth: 1\n" + STEPS
    workflow = only(plan_of(tmp_path / "b", {".woodpecker.yml": custom}))
    assert names(workflow)[0] == ["git"]
    assert workflow.steps[0].kind is StepKind.CLONE
    assert workflow.steps[0].environment == {"PLUGIN_DEPTH": "1"}


def test_bad_substitution_is_a_located_error(tmp_path: Path) -> None:
    text = "skip_clone: true\nsteps:\n  - name: a\n    image: alpine\n    commands:\n      - echo ${{ x }}\n"
    with pytest.raises(PipelineError) as info:
        plan_of(tmp_path, {".woodpecker.yml": text})
    [problem] = info.value.problems
    assert (problem.kind, problem.file, problem.line) == ("substitution", ".woodpecker.yml", 3)
    assert "step 'a'" in problem.message


def test_extra_env_is_substituted_but_never_overrides_ci_variables(tmp_path: Path) -> None:
    text = """
skip_clone: true
steps:
  - name: a
    image: ${REGISTRY}/app
    commands:
      - echo ${CI_COMMIT_BRANCH}
"""
    plan = plan_of(
        tmp_path, {".woodpecker.yml": text}, env={"REGISTRY": "reg.local", "CI_COMMIT_BRANCH": "x"}
    )
    step = only(plan).steps[0]
    assert (step.image, step.commands) == ("reg.local/app", ("echo main",))


# -- dependencies on filtered steps and workflows (Woodpecker e2e scenarios 14-17) ---------------------------

FILTERED_DEP = """
skip_clone: true
steps:
  - name: build
    image: alpine
    commands: [true]
  - name: lint
    image: alpine
    commands: [true]
    when:
      event: tag
  - name: deploy
    image: alpine
    commands: [true]
    depends_on:
      - build
      - name: lint
        optional: {optional}
"""


def test_an_optional_dependency_on_a_filtered_step_is_dropped(tmp_path: Path) -> None:
    workflow = only(plan_of(tmp_path, {".woodpecker.yml": FILTERED_DEP.replace("{optional}", "true")}))
    assert names(workflow) == [["build"], ["deploy"]]
    assert workflow.steps[1].depends_on == ("build",)
    assert workflow.skipped_steps == ("lint",)


def test_a_required_dependency_on_a_filtered_step_is_an_error_as_in_woodpecker(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as info:
        plan_of(tmp_path, {".woodpecker.yml": FILTERED_DEP.replace("{optional}", "false")})
    [problem] = info.value.problems
    assert problem.kind == "missing_dependency"
    assert "'lint'" in problem.message
    assert problem.hint is not None and "optional: true" in problem.hint


def test_drone_treats_a_filtered_dependency_as_done(tmp_path: Path) -> None:
    text = """
kind: pipeline
type: docker
name: default
steps:
  - name: build
    image: alpine
    commands: [true]
  - name: publish
    image: alpine
    commands: [true]
    when:
      event: [tag]
  - name: notify
    image: alpine
    commands: [true]
    depends_on: [build, publish]
"""
    workflow = only(plan_of(tmp_path, {".drone.yml": text}))
    assert names(workflow) == [["clone"], ["build"], ["notify"]]


def test_workflow_dependencies_optional_dropped_required_skip_transitively(tmp_path: Path) -> None:
    files = {
        ".woodpecker/check-a.yml": STEPS,
        ".woodpecker/check-b.yml": "when:\n  event: tag\n" + STEPS,
        ".woodpecker/deploy.yml": "depends_on:\n  - check-a\n  - name: check-b\n    optional: true\n" + STEPS,
        ".woodpecker/package.yml": "depends_on: [check-b]\n" + STEPS,
        ".woodpecker/release.yml": "depends_on: [package]\n" + STEPS,
    }
    plan = plan_of(tmp_path, files)
    by_name = {w.name: w for w in plan.workflows}
    assert not by_name["deploy"].skipped
    assert by_name["deploy"].depends_on == ("check-a",)
    assert by_name["check-b"].skipped
    assert by_name["package"].skipped  # requires a skipped workflow
    assert by_name["release"].skipped  # ... and so does what requires it
    assert by_name["release"].depends_on == ("package",)


def test_a_workflow_requiring_an_absent_workflow_is_skipped_siblings_run() -> None:
    # Woodpecker e2e scenario 16: built by hand, as the linter reports the unknown name in a repository
    def workflow(name: str, *deps: str) -> WorkflowSpec:
        return WorkflowSpec(
            name=name, file=f"{name}.yml", pos=Pos(f"{name}.yml", 1, 1), skip_clone=True,
            steps=[_step(name)], depends_on=tuple(Dependency(dep) for dep in deps),
        )  # fmt: skip

    plan = build_plan(
        PipelineSpec(workflows=[workflow("check-a"), workflow("deploy", "check-a", "ghost")]), PUSH
    )
    assert [(w.name, w.skipped) for w in plan.workflows] == [("check-a", False), ("deploy", True)]


# -- JSON shape ---------------------------------------------------------------------------------------------


def test_plan_as_dict_has_the_documented_shape(tmp_path: Path) -> None:
    text = "skip_clone: true\nmatrix:\n  V: [x]\n" + FILTERED_DEP.replace("skip_clone: true\n", "").replace(
        "{optional}", "true"
    )
    data = plan_of(tmp_path, {".woodpecker.yml": text}).as_dict()
    assert list(data) == ["workflows"]
    [workflow] = data["workflows"]
    assert {"name", "matrix", "skipped", "depends_on", "stages", "skipped_steps"} <= set(workflow)
    assert workflow["name"] == "woodpecker"
    assert workflow["matrix"] == {"V": "x"}
    assert workflow["skipped"] is False
    assert workflow["depends_on"] == []
    assert [[step["name"] for step in stage] for stage in workflow["stages"]] == [["build"], ["deploy"]]
    assert workflow["stages"][1][0] == {
        "name": "deploy",
        "kind": "commands",
        "image": "alpine",
        "commands": ["true"],
        "depends_on": ["build"],
    }
    assert workflow["skipped_steps"] == ["lint"]


def test_an_evaluate_broken_by_substitution_is_a_located_error(tmp_path: Path) -> None:
    # Given an expression that only becomes invalid once ${...} is substituted (Woodpecker substitutes first)
    text = """
skip_clone: true
steps:
  - name: a
    image: alpine
    commands: [true]
    when:
      evaluate: 'CI_COMMIT_BRANCH == "${CI_COMMIT_MESSAGE}"'
"""
    with pytest.raises(PipelineError) as info:
        plan_of(tmp_path, {".woodpecker.yml": text}, Event(message='say "hi"'))
    [problem] = info.value.problems
    assert (problem.kind, problem.line) == ("expression", 8)
    assert "step 'a'" in problem.message
