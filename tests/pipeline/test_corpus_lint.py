"""The third-party corpus lints: no unhandled exception, >= 95% without error, failures listed with a reason.

Multi-file repositories are stored flattened (``owner__repo__.woodpecker__NAME.yml``); they are rebuilt as a
``.woodpecker/`` folder so cross-workflow ``depends_on`` resolves as in the real repository.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from pathlib import Path

import pytest

from shera.model.problems import Problem
from shera.pipeline.loader import load_path
from tests.support.corpus import need_corpus

KNOWN_FAILURES = Path(__file__).parent / "data" / "corpus_known_failures.tsv"
FOLDER_MARK = "__.woodpecker__"


def known_failures() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in KNOWN_FAILURES.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, reason = line.split("\t", 1)
            assert reason.strip(), f"{name}: a known failure needs a reason"
            out[name] = reason
    return out


def lint_corpus(tmp_path: Path) -> dict[str, list[Problem]]:
    """Corpus name (``folder/file``) -> every problem reported for that file."""
    pipelines = need_corpus() / "pipelines"
    repos: dict[str, list[Path]] = defaultdict(list)
    results: dict[str, list[Problem]] = {}
    for folder in ("woodpecker", "drone"):
        for path in sorted((pipelines / folder).glob("*.y*ml")):
            if FOLDER_MARK in path.name:
                repos[f"{folder}/{path.name.split(FOLDER_MARK)[0]}"].append(path)
                continue
            results[f"{folder}/{path.name}"] = load_path(path).problems
    for repo, paths in repos.items():
        root = tmp_path / repo.replace("/", "_")
        (root / ".woodpecker").mkdir(parents=True)
        local_names = {}
        for path in paths:
            local = path.name.split(FOLDER_MARK, 1)[1]
            shutil.copy(path, root / ".woodpecker" / local)
            local_names[f".woodpecker/{local}"] = f"{repo.split('/')[0]}/{path.name}"
            results[local_names[f".woodpecker/{local}"]] = []
        for problem in load_path(root).problems:
            results[local_names[problem.file]].append(problem)
    return results


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Problem]]:
    return lint_corpus(tmp_path_factory.mktemp("corpus"))


def test_corpus_lints_with_at_most_five_percent_failing(corpus_results: dict[str, list[Problem]]) -> None:
    failing = {name for name, problems in corpus_results.items() if any(p.is_error for p in problems)}
    assert len(corpus_results) >= 150  # the corpus is really there
    assert len(failing) / len(corpus_results) <= 0.05, sorted(failing)


def test_failures_are_exactly_the_known_ones(corpus_results: dict[str, list[Problem]]) -> None:
    failing = {name for name, problems in corpus_results.items() if any(p.is_error for p in problems)}
    known = set(known_failures())
    details = {name: [str(p) for p in corpus_results[name] if p.is_error] for name in failing - known}
    assert not failing - known, f"new failures: {details}"
    assert not known - failing, f"listed as failing but pass now: {sorted(known - failing)}"


def test_no_internal_errors_and_every_problem_is_located(corpus_results: dict[str, list[Problem]]) -> None:
    for name, problems in corpus_results.items():
        assert not [p for p in problems if p.kind == "internal"], name
        assert all(p.line > 0 for p in problems), (name, [str(p) for p in problems if p.line == 0])


def test_whole_corpus_lints_quickly(tmp_path: Path) -> None:
    started = time.perf_counter()
    lint_corpus(tmp_path)
    assert time.perf_counter() - started < 5.0


UPSTREAM = "woodpecker-upstream-fixtures"


def upstream_fixtures(prefix: str) -> list[Path]:
    folder = need_corpus() / "pipelines" / UPSTREAM
    return sorted(
        p for p in folder.glob("*.woodpecker__test-*.yml") if p.name.split("__")[-1].startswith(prefix)
    )


def test_upstream_broken_fixtures_are_rejected_with_a_located_message() -> None:
    broken = upstream_fixtures("test-broken")
    assert len(broken) == 4
    for path in broken:
        errors = [p for p in load_path(path).problems if p.is_error]
        assert errors, path.name
        assert all(p.file == str(path) and p.line > 0 and p.column > 0 for p in errors), path.name


def test_upstream_valid_fixtures_lint_without_errors() -> None:
    valid = [p for p in upstream_fixtures("test-") if "test-broken" not in p.name]
    assert len(valid) >= 20
    for path in valid:
        problems = load_path(path).problems
        assert not [str(p) for p in problems if p.is_error], path.name
