"""Reading Woodpecker / She-Ra workflow files into the spec (shera.pipeline.woodpecker and its readers)."""

from __future__ import annotations

from pathlib import Path

from shera.pipeline.loader import load_path
from shera.pipeline.spec import Dependency, FromSecret, PipelineSpec


def load(tmp_path: Path, text: str, name: str = ".woodpecker.yml") -> PipelineSpec:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_path(path)


def kinds(spec: PipelineSpec) -> list[tuple[str, str]]:
    return [(str(p.severity), p.kind) for p in spec.problems]


def test_map_form_steps_keep_file_order_and_every_field(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
steps:
  build:
    image: golang:1.22
    commands: go build
    environment:
      CGO_ENABLED: 0
      TOKEN: {from_secret: api_token}
      LIST: [a, b]
    depends_on: []
    failure: ignore
    pull: true
    directory: src
    volumes: [/tmp:/tmp]
  test:
    image: golang:1.22
    entrypoint: ['/bin/sh', '-c']
    commands: ['go test ./...']
    depends_on: [build, {name: lint, optional: true}]
    when:
      - event: [push, pull_request]
        branch: {include: main, exclude: ['release/*']}
        path: {include: ['**/*.go'], ignore_message: '[ALL]', on_empty: false}
      - event: tag
        evaluate: 'CI_COMMIT_TAG startsWith "v"'
services:
  db:
    image: postgres:16
    ports: [5432, "8080/tcp"]
""",
    )
    assert spec.problems == []
    (workflow,) = spec.workflows
    assert workflow.name == "woodpecker"
    build, test = workflow.steps
    assert build.name == "build" and build.pos.line == 3
    assert build.commands == ("go build",)
    assert build.environment == {"CGO_ENABLED": "0", "TOKEN": FromSecret("api_token"), "LIST": "a,b"}
    assert build.depends_on == ()
    assert (build.failure, build.pull, build.directory, build.volumes) == (
        "ignore",
        True,
        "src",
        ("/tmp:/tmp",),
    )
    assert test.entrypoint == ("/bin/sh", "-c")
    assert [(d.name, d.optional) for d in test.depends_on or ()] == [("build", False), ("lint", True)]
    first, second = test.when
    assert first.event is not None and first.event.include == ("push", "pull_request")
    assert first.branch is not None and (first.branch.include, first.branch.exclude) == (
        ("main",),
        ("release/*",),
    )
    assert first.path is not None and first.path.ignore_message == "[ALL]" and first.path.on_empty is False
    assert second.evaluate == 'CI_COMMIT_TAG startsWith "v"'
    (db,) = workflow.services
    assert db.is_service and db.ports == (5432, 8080)


def test_list_form_names_and_step_without_name(tmp_path: Path) -> None:
    spec = load(
        tmp_path, "steps:\n  - name: one\n    image: a\n    commands: [x]\n  - image: b\n    commands: [y]\n"
    )
    assert [step.name for step in spec.workflows[0].steps] == ["one", "step-1"]


def test_scalars_keep_their_written_text(tmp_path: Path) -> None:
    # Given values YAML would read as numbers
    spec = load(
        tmp_path,
        """
matrix:
  GO: [1.10, 1.20]
  include_not: [true]
labels: {arch: 1.0}
steps:
  s:
    image: golang:${GO}
    commands: [echo]
    environment: {V: 1.10}
    when: {matrix: {GO: 1.10}}
""",
    )
    (workflow,) = spec.workflows
    assert workflow.matrix is not None
    assert workflow.matrix.axes == {"GO": ("1.10", "1.20"), "include_not": ("true",)}
    assert workflow.labels == {"arch": "1.0"}
    step = workflow.steps[0]
    assert step.environment == {"V": "1.10"}
    assert step.when[0].matrix == {"GO": "1.10"}


def test_matrix_include_rows(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        "matrix:\n  include:\n    - {A: 1, B: x}\n    - {A: 2}\nsteps: {s: {image: a, commands: [x]}}\n",
    )
    matrix = spec.workflows[0].matrix
    assert matrix is not None and matrix.rows() == [{"A": "1", "B": "x"}, {"A": "2"}]


def test_anchors_and_list_merge(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
variables:
  base: &base {image: alpine}
  cmds: &cmds [one, two]
steps:
  a:
    <<: *base
    commands:
      - <<: *cmds
      - three
""",
    )
    step = spec.workflows[0].steps[0]
    assert (step.image, step.commands) == ("alpine", ("one", "two", "three"))


def test_workflow_level_fields(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
when: {event: push, branch: main}
depends_on: [lint]
runs_on: [success, failure]
skip_clone: true
workspace: {base: /go, path: src/x}
labels: {backend: local}
steps: {s: {image: a, commands: [x]}}
""",
        name=".woodpecker/build.yml",
    )
    (workflow,) = spec.workflows
    assert workflow.name == "build"
    assert workflow.depends_on[0].name == "lint"
    assert workflow.runs_on == ("success", "failure")
    assert workflow.skip_clone and (workflow.workspace_base, workflow.workspace_path) == ("/go", "src/x")
    assert workflow.when[0].branch is not None and workflow.when[0].branch.include == ("main",)


def test_deprecated_keys_are_read_with_a_warning(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
platform: linux/arm64
branches: main
pipeline:
  publish:
    image: plugins/docker
    secrets: [docker_password, {source: a, target: b}]
    group: build
    when:
      tag: v*
""",
    )
    assert not spec.has_errors
    assert kinds(spec).count(("warning", "deprecated")) == 6
    (workflow,) = spec.workflows
    assert workflow.labels["platform"] == "linux/arm64"
    assert workflow.when[0].branch is not None and workflow.when[0].branch.include == ("main",)
    step = workflow.steps[0]
    assert step.environment == {"DOCKER_PASSWORD": FromSecret("docker_password"), "B": FromSecret("a")}
    assert step.when[0].ref is not None and step.when[0].ref.include == ("refs/tags/v*",)


def test_clone_parameters_outside_settings_become_settings(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        "clone:\n  git:\n    image: plugins/git\n    depth: 50\nsteps: {s: {image: a, commands: [x]}}\n",
    )
    assert kinds(spec) == [("warning", "deprecated")]
    clone = spec.workflows[0].clone
    assert clone is not None and clone[0].settings == {"depth": 50}


def test_shera_keys_in_a_woodpecker_file_warn_but_not_in_a_shera_file(tmp_path: Path) -> None:
    text = "steps:\n  d:\n    uses: debug\n    timeout: 1h30m\n"
    woodpecker = load(tmp_path / "a", text)
    shera = load(tmp_path / "b", text, name=".shera.yml")
    assert ("warning", "extension") in kinds(woodpecker)
    assert ("warning", "extension") not in kinds(shera)
    step = shera.workflows[0].steps[0]
    assert (shera.workflows[0].name, step.uses, step.timeout_s) == ("shera", "debug", 5400.0)


def test_shape_errors_are_located(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        """
steps:
  s:
    image: [not, a, string]
    commands:
      - echo a: b
    failure: sometimes
    detach: yes
    depends_on: {x: 1}
""",
    )
    found = {(p.line, p.kind) for p in spec.problems}
    assert {(4, "type"), (6, "type"), (7, "value"), (8, "type"), (9, "type")} <= found
    command_problem = next(p for p in spec.problems if p.line == 6)
    assert command_problem.hint is not None and "quote" in command_problem.hint


def test_unknown_event_gets_a_hint(tmp_path: Path) -> None:
    spec = load(tmp_path, "steps:\n  s:\n    image: a\n    commands: [x]\n    when: {event: pul_request}\n")
    (problem,) = spec.problems
    assert (problem.kind, problem.line, problem.hint) == ("value", 5, "did you mean 'pull_request'?")


def test_dependency_positions_point_at_the_item(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        "steps:\n  a: {image: x, commands: [y]}\n"
        "  b:\n    image: x\n    commands: [y]\n    depends_on:\n      - a\n",
    )
    dep = spec.workflows[0].steps[1].depends_on
    assert dep is not None and dep[0] == Dependency("a", False, dep[0].pos) and dep[0].pos is not None
    assert dep[0].pos.line == 7
