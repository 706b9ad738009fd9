"""Finding a repository's pipeline files in lookup order (shera.pipeline.discover)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shera.pipeline.discover import discover, find_pipeline_files
from shera.pipeline.loader import load_path

STEP = "steps: {s: {image: x, commands: [y]}}\n"


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STEP)


@pytest.mark.parametrize(
    ("present", "found"),
    [
        ((".shera.yml", ".shera/a.yml", ".woodpecker.yml", ".drone.yml"), [".shera.yml"]),
        (
            (".shera/b.yml", ".shera/a.yml", ".shera/c.yaml", ".woodpecker/x.yml"),
            [".shera/a.yml", ".shera/b.yml"],
        ),
        (
            (".woodpecker/b.yaml", ".woodpecker/a.yml", ".woodpecker.yml"),
            [".woodpecker/a.yml", ".woodpecker/b.yaml"],
        ),
        ((".woodpecker.yaml", ".drone.yml"), [".woodpecker.yaml"]),
        ((".drone.yml",), [".drone.yml"]),
    ],
)
def test_first_group_wins_sorted_within_a_folder(
    tmp_path: Path, present: tuple[str, ...], found: list[str]
) -> None:
    touch(tmp_path, *present)
    assert [str(p.relative_to(tmp_path)) for p in find_pipeline_files(tmp_path)] == found


def test_nothing_found_is_a_problem(tmp_path: Path) -> None:
    found = discover(tmp_path)
    assert found.paths == [] and [p.kind for p in found.problems] == ["no_pipeline"]
    assert load_path(tmp_path).has_errors


def test_symlink_escaping_the_root_is_refused_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text("steps: {leak: {image: secret, commands: [y]}}\n")
    repo = tmp_path / "repo"
    touch(repo, ".woodpecker/ok.yml")
    (repo / ".woodpecker" / "evil.yml").symlink_to(outside)
    assert [p.name for p in find_pipeline_files(repo)] == ["ok.yml"]
    spec = load_path(repo)
    assert [w.name for w in spec.workflows] == ["ok"]
    (problem,) = spec.problems
    assert (problem.kind, problem.file) == ("security", ".woodpecker/evil.yml")


def test_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    touch(tmp_path, "ci/real.yml")
    (tmp_path / ".woodpecker").mkdir()
    (tmp_path / ".woodpecker" / "link.yml").symlink_to(tmp_path / "ci" / "real.yml")
    spec = load_path(tmp_path)
    assert [w.name for w in spec.workflows] == ["link"] and spec.problems == []
