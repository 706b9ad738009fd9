"""The planner over real pipelines: every corpus repository plans for a push to its default branch.

Each repository of ``pipelines/woodpecker`` and ``pipelines/drone`` is rebuilt in a temporary folder from
``SOURCES.tsv`` (its files at their original paths), so cross-workflow ``depends_on`` resolves as in the real
``.woodpecker/`` folder, then loaded and planned as ``shera plan`` does. Only a pipeline with lint errors may
refuse to plan. Woodpecker's own e2e scenarios about ``depends_on`` must plan as their expected results say.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from shera.errors import PipelineError
from shera.model.event import Event, EventKind
from shera.model.plan import Plan
from shera.pipeline.loader import load_path
from shera.pipeline.planner import build_plan
from shera.plugins import Registry
from tests.support.corpus import CORPUS, need_corpus

PUSH_DEFAULT = Event(kind=EventKind.PUSH, branch="main", default_branch="main", repo="corpus/repo")


def _repositories() -> dict[str, list[tuple[str, str]]]:
    """``folder/owner/name`` -> ``[(corpus file, path in the repository)]``; empty without the corpus."""
    sources = CORPUS / "pipelines" / "SOURCES.tsv"
    if not sources.is_file():
        return {}
    repos: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with sources.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            folder = row["file"].split("/", 1)[0]
            if folder in ("woodpecker", "drone"):
                repos[f"{folder}/{row['repository']}"].append((row["file"], row["path"]))
    return dict(sorted(repos.items()))


REPOSITORIES = _repositories()


def _rebuild(tmp_path: Path, files: list[tuple[str, str]]) -> Path:
    root = tmp_path / "repo"
    for corpus_file, repo_path in files:
        target = root / repo_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / "pipelines" / corpus_file, target)
    return root


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_entry_points()


def test_the_corpus_is_there() -> None:
    need_corpus()
    assert len(REPOSITORIES) >= 50


@pytest.mark.parametrize("repository", list(REPOSITORIES))
def test_repository_plans_for_a_push_to_its_default_branch(
    repository: str, tmp_path: Path, registry: Registry
) -> None:
    spec = load_path(_rebuild(tmp_path, REPOSITORIES[repository]), registry=registry)
    try:
        plan = build_plan(spec, PUSH_DEFAULT)
    except PipelineError as exc:
        # Only lint errors may block planning; a clean file must plan.
        assert spec.has_errors, f"{repository} has no lint error but does not plan: {exc}"
        return
    names = {workflow.name for workflow in plan.workflows}
    assert len(plan.workflows) >= len(spec.workflows)  # matrix rows only add
    for workflow in plan.workflows:
        assert set(workflow.depends_on) <= names
        json.dumps(workflow.as_dict())  # the JSON of `shera plan --format json` can be written


def test_the_corpus_plans_to_real_work(tmp_path: Path, registry: Registry) -> None:
    need_corpus()
    steps = 0
    for index, files in enumerate(REPOSITORIES.values()):
        spec = load_path(_rebuild(tmp_path / str(index), files), registry=registry)
        if not spec.has_errors:
            steps += sum(len(w.steps) for w in build_plan(spec, PUSH_DEFAULT).workflows if not w.skipped)
    assert steps >= 200


def _scenario(tmp_path: Path, number: str) -> Plan:
    """Woodpecker's e2e scenario ``number`` as a repository: ``..._NN_title__name.yml`` becomes
    ``.woodpecker/name.yml``, a single-file scenario ``.woodpecker.yml``."""
    fixtures = need_corpus() / "pipelines" / "woodpecker-upstream-fixtures"
    files = sorted(fixtures.glob(f"*__fixtures__{number}_*.yml"))
    assert files
    for file in files:
        parts = file.stem.split("__")
        target = tmp_path / (".woodpecker/" + parts[-1] + ".yml" if len(files) > 1 else ".woodpecker.yml")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    return build_plan(load_path(tmp_path, registry=Registry()), Event(kind=EventKind.PUSH))


def _ran(plan: Plan) -> list[tuple[str, list[str]]]:
    return [(w.name, [s.name for s in w.steps]) for w in plan.workflows if not w.skipped]


def test_scenario_12_workflow_depends_on(tmp_path: Path) -> None:
    plan = _scenario(tmp_path, "12")
    assert _ran(plan) == [("build", ["compile", "unit-test"]), ("deploy", ["deploy"]), ("notify", ["notify"])]
    assert [w.depends_on for w in plan.workflows] == [(), ("build",), ("build",)]


def test_scenario_14_optional_workflow_dependency_is_dropped(tmp_path: Path) -> None:
    plan = _scenario(tmp_path, "14")
    assert _ran(plan) == [("check-a", ["check-a"]), ("deploy", ["deploy"])]
    assert {w.name: w.depends_on for w in plan.workflows}["deploy"] == ("check-a",)


def test_scenario_15_optional_step_dependency_is_dropped(tmp_path: Path) -> None:
    plan = _scenario(tmp_path, "15")
    [workflow] = plan.workflows
    assert [[s.name for s in stage] for stage in workflow.stages] == [["build"], ["deploy"]]
    assert workflow.skipped_steps == ("lint",)


def test_scenario_17_missing_required_step_dependency_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PipelineError) as info:
        _scenario(tmp_path, "17")
    assert any(p.kind == "missing_dependency" and "ghost-step" in p.message for p in info.value.problems)
