"""The linter's semantic checks (shera.pipeline.lint), through files as a user writes them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from shera.model.problems import Problem
from shera.pipeline.lint import lint
from shera.pipeline.loader import load_path, load_pipeline
from shera.pipeline.spec import PipelineSpec, StepSpec, WorkflowSpec
from shera.pipeline.yamlload import Pos
from shera.plugins import STEP_KINDS, Registry


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    port: int


class FakeWith(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    image: str
    ports: list[Inner] = []


def registry() -> Registry:
    reg = Registry()
    reg.register(STEP_KINDS, "fake", FakeWith)
    return reg


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors(spec: PipelineSpec) -> list[Problem]:
    return [p for p in spec.problems if p.is_error]


def test_duplicate_step_names(tmp_path: Path) -> None:
    path = write(
        tmp_path, "a.yml", "steps:\n  - name: a\n    image: x\n    commands: [y]\n  - name: a\n    image: x\n"
    )
    (problem,) = errors(load_path(path))
    assert (problem.kind, problem.line, problem.column) == ("duplicate", 5, 5)
    assert problem.hint is not None and "a.yml:2" in problem.hint


def test_same_name_allowed_when_event_filters_exclude_each_other(tmp_path: Path) -> None:
    text = """
steps:
  - {name: configure, image: x, commands: [a], when: {event: push}}
  - {name: configure, image: x, commands: [b], when: [{event: tag}, {event: [cron, manual]}]}
  - {name: configure, image: x, commands: [c], when: {branch: main}}
"""
    (problem,) = errors(load_path(write(tmp_path, "a.yml", text)))
    assert (problem.kind, problem.line) == ("duplicate", 5)


def test_step_cycle_and_missing_dependency(tmp_path: Path) -> None:
    text = """
steps:
  a: {image: x, commands: [y], depends_on: [c]}
  b: {image: x, commands: [y], depends_on: [a, {name: gone, optional: true}]}
  c: {image: x, commands: [y], depends_on: [b, buidl]}
"""
    found = {(p.kind, p.line) for p in errors(load_path(write(tmp_path, "a.yml", text)))}
    # the cycle is reported at the entry that closes it (b -> a), the missing target at its own item
    assert found == {("cycle", 4), ("missing_dependency", 5)}
    spec = load_path(tmp_path / "a.yml")
    cycle = next(p for p in spec.problems if p.kind == "cycle")
    assert cycle.message == "step dependency cycle: a -> c -> b -> a"


def test_workflow_dependencies_in_a_repository(tmp_path: Path) -> None:
    write(tmp_path, ".woodpecker/.build.yml", "steps: {s: {image: x, commands: [y]}}\ndepends_on: [deploy]\n")
    write(
        tmp_path,
        ".woodpecker/deploy.yml",
        "steps: {s: {image: x, commands: [y]}}\ndepends_on: [build, tst]\n",
    )
    spec = load_path(tmp_path)
    assert [w.name for w in spec.workflows] == ["build", "deploy"]
    found = sorted((p.file, p.line, p.kind) for p in errors(spec))
    # build -> deploy -> build closes at deploy's "build" item
    assert found == [(".woodpecker/deploy.yml", 2, "cycle")]
    # "tst" names no workflow: Woodpecker skips such a workflow and runs the others (e2e scenario 16)
    (missing,) = [p for p in spec.problems if p.kind == "missing_dependency"]
    assert (missing.severity, missing.line) == ("warning", 2)
    assert "'tst'" in missing.message and "skipped" in missing.message


def test_workflow_dependency_of_a_single_file_is_only_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path, ".woodpecker/deploy.yml", "steps: {s: {image: x, commands: [y]}}\ndepends_on: [build]\n"
    )
    spec = load_path(path)
    assert not spec.has_errors
    assert [p.kind for p in spec.problems] == ["missing_dependency"]


def test_missing_image_is_an_error_except_on_the_local_backend(tmp_path: Path) -> None:
    docker = load_path(write(tmp_path, "a.yml", "steps: {s: {commands: [y]}}\n"))
    local = load_path(write(tmp_path, "b.yml", "labels: {backend: local}\nsteps: {s: {commands: [y]}}\n"))
    assert [(p.kind, p.is_error) for p in docker.problems] == [("missing", True)]
    assert [(p.kind, p.is_error) for p in local.problems] == [("missing", False)]


def test_uses_with_is_validated_at_the_offending_key(tmp_path: Path) -> None:
    text = """
steps:
  ok:
    uses: fake
    with: {image: x, ports: [{port: 1}]}
  bad:
    uses: fake
    with:
      image: 3
      ports:
        - port: "80"
      extra: true
  missing:
    uses: fake
    with: {}
  typo:
    uses: fak
"""
    spec = load_pipeline([write(tmp_path, ".shera.yml", text)], registry=registry())
    found = sorted((p.line, p.column, p.kind) for p in errors(spec))
    assert found == [
        (9, 7, "with"),
        (11, 11, "with"),
        (12, 7, "with"),
        (15, 11, "with"),
        (16, 3, "unknown_kind"),
    ]
    typo = next(p for p in spec.problems if p.kind == "unknown_kind")
    assert typo.hint == "did you mean 'fake'?"


def test_uses_with_built_in_kinds_from_entry_points(tmp_path: Path) -> None:
    spec = load_path(
        write(tmp_path, ".shera.yml", "steps:\n  b:\n    uses: build\n    with: {no_such_key: 1}\n")
    )
    assert any(p.kind == "with" and p.line == 4 for p in errors(spec))


def test_invalid_expression_and_glob_are_located(tmp_path: Path) -> None:
    text = """
steps:
  s:
    image: x
    commands: [y]
    when:
      - evaluate: 'CI_COMMIT_BRANCH == "main" &&'
      - branch: 'release/[a-'
"""
    found = {(p.kind, p.line) for p in errors(load_path(write(tmp_path, "a.yml", text)))}
    assert found == {("expression", 7), ("glob", 8)}


def test_lint_of_a_built_spec_without_registry_skips_with_validation() -> None:
    pos = Pos("f.yml", 1, 1)
    step = StepSpec(name="s", pos=pos, uses="anything", with_={"x": 1})
    spec = PipelineSpec(workflows=[WorkflowSpec(name="w", file="f.yml", pos=pos, steps=[step])])
    assert lint(spec, None) == []


def test_duplicate_workflow_names_in_a_drone_file(tmp_path: Path) -> None:
    doc = "kind: pipeline\nname: same\nsteps: [{name: a, image: x}]\n"
    spec = load_path(write(tmp_path, ".drone.yml", f"{doc}---\n{doc}"))
    (problem,) = errors(spec)
    assert (problem.kind, problem.line) == ("duplicate", 5)
