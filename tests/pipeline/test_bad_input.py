"""Bad input gets a clear, located problem and never a traceback (through ``load_path``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shera.model.problems import Problem
from shera.pipeline.loader import load_path

OK_STEP = "steps:\n  s:\n    image: alpine\n    commands: [echo]\n"


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n" + OK_STEP


CASES: dict[str, tuple[str, str, int]] = {
    # name: (file text, expected kind, expected line)
    "yaml syntax error": ("steps:\n  s:\n    image: [alpine\n    commands: x\n", "yaml", 4),
    "unknown key": ("steps:\n  s:\n    imag: alpine\n    commands: [x]\n", "unknown_key", 3),
    "duplicate step names": (
        "steps:\n  - name: a\n    image: x\n    commands: [y]\n"
        "  - name: a\n    image: x\n    commands: [z]\n",
        "duplicate",
        5,
    ),
    "cycle": (
        "steps:\n  a: {image: x, commands: [y], depends_on: [b]}\n"
        "  b: {image: x, commands: [y], depends_on: [a]}\n",
        "cycle",
        3,
    ),
    "missing dependency": (
        "steps:\n  a: {image: x, commands: [y], depends_on: [nope]}\n",
        "missing_dependency",
        2,
    ),
    "alias bomb": (alias_bomb(), "limit", 0),
    "python tag": ("steps: !!python/object/apply:os.system ['echo pwned']\n", "yaml", 1),
    "invalid glob": (OK_STEP + "    when: {branch: 'feature/[abc'}\n", "glob", 5),
    "invalid expression": (OK_STEP + "    when: {evaluate: 'CI_COMMIT_BRANCH == '}\n", "expression", 5),
    "not a mapping": ("- just\n- a list\n", "type", 1),
    "empty file": ("# nothing\n", "missing", 0),
    "steps missing": ("when: {event: push}\n", "missing", 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_a_located_problem(tmp_path: Path, name: str) -> None:
    text, kind, line = CASES[name]
    path = tmp_path / ".woodpecker.yml"
    path.write_text(text)
    spec = load_path(path)
    errors = [p for p in spec.problems if p.is_error]
    matching = [p for p in errors if p.kind == kind]
    assert matching, [str(p) for p in spec.problems]
    problem: Problem = matching[0]
    assert problem.file == str(path)
    if kind != "limit":
        assert problem.line == line, str(problem)
    assert problem.message


def test_alias_bomb_is_refused_with_a_position(tmp_path: Path) -> None:
    path = tmp_path / ".woodpecker.yml"
    path.write_text(alias_bomb())
    (problem,) = load_path(path).problems
    assert problem.kind == "limit" and problem.line >= 1 and "alias" in problem.message


def test_ten_megabyte_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / ".woodpecker.yml"
    path.write_text(OK_STEP + "# " + "x" * (10 * 1024 * 1024) + "\n")
    (problem,) = load_path(path).problems
    assert (problem.kind, problem.file) == ("limit", str(path))
    assert "limit" in problem.message


def test_unknown_key_hint_is_the_closest_valid_key(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("matri: {A: [1]}\n" + OK_STEP.replace("commands", "comands"))
    hints = {p.message: p.hint for p in load_path(path).problems}
    assert hints["unknown key 'matri' in the workflow"] == "did you mean 'matrix'?"
    assert hints["unknown key 'comands' in step 's'"] == "did you mean 'commands'?"


def test_binary_and_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    (problem,) = load_path(binary).problems
    assert problem.kind == "yaml" and "UTF-8" in problem.message
    missing = load_path(tmp_path / "gone.yml")
    assert [p.kind for p in missing.problems] == ["io"]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text(
        "matri: {}\nsteps:\n  a: {image: x, commands: [y], depends_on: [b, c]}\n"
        "  b: {image: x, commands: [y], depends_on: [a], failure: maybe}\n"
    )
    kinds = sorted(p.kind for p in load_path(path).problems if p.is_error)
    assert kinds == ["cycle", "missing_dependency", "unknown_key", "value"]
