"""Woodpecker's upstream e2e scenarios, run with the stub executor, end exactly as their expected JSON says.

Single-file scenarios go into a temp repository as ``.woodpecker.yml``; multi-file ones
(``NN_name__WORKFLOW.yml`` + ``NN_name__scenario.json``) as ``.woodpecker/WORKFLOW.yml``. Steps are compared
as a multiset of (name, status, exit code) over the whole run; workflows when the scenario lists them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shera.errors import PipelineError
from shera.model.event import Event, EventKind
from shera.model.plan import Plan
from shera.pipeline.loader import load_path
from shera.pipeline.planner import build_plan
from shera.pipeline.variables import ci_variables
from shera.runtime.context import ExecutorFactory
from shera.runtime.engine import run_plan
from tests.runtime.support import Stubs
from tests.support.corpus import CORPUS, need_corpus

PREFIX = "woodpecker-ci__woodpecker__e2e__scenarios__fixtures__"
FIXTURES = CORPUS / "pipelines" / "woodpecker-upstream-fixtures"


def scenario_names() -> list[object]:
    if not FIXTURES.is_dir():
        return ["corpus-missing"]
    names = {
        path.name.removeprefix(PREFIX).split("__")[0].split(".")[0] for path in FIXTURES.glob(PREFIX + "*")
    }
    return sorted(names)


def make_repo(name: str, root: Path) -> dict[str, Any]:
    """Write scenario ``name`` into the repository ``root``; return its expected-result JSON."""
    single = FIXTURES / f"{PREFIX}{name}.yml"
    if single.is_file():
        (root / ".woodpecker.yml").write_bytes(single.read_bytes())
        return dict(json.loads((FIXTURES / f"{PREFIX}{name}.json").read_text()))
    folder = root / ".woodpecker"
    folder.mkdir()
    for path in FIXTURES.glob(f"{PREFIX}{name}__*.yml"):
        workflow = path.name.removeprefix(f"{PREFIX}{name}__")
        (folder / workflow).write_bytes(path.read_bytes())
    return dict(json.loads((FIXTURES / f"{PREFIX}{name}__scenario.json").read_text()))


@pytest.mark.parametrize("name", scenario_names())
def test_upstream_e2e_scenario(name: str, tmp_path: Path) -> None:
    stubs = Stubs()
    check_scenario(name, tmp_path, stubs)
    for stub in stubs.made.values():
        assert stub.running == set()
        assert stub.calls[-1] == ("teardown", "")


def check_scenario(
    name: str,
    tmp_path: Path,
    executor_factory: ExecutorFactory,
    transform: Callable[[Plan], Plan] = lambda plan: plan,
) -> None:
    """Run scenario ``name`` with executors from ``executor_factory``; assert its expected JSON.

    ``transform`` may rewrite the plan first (the podman variant maps image names to local stand-ins).
    """
    need_corpus()
    repo = tmp_path / "repo"
    repo.mkdir()
    expected = make_repo(name, repo)
    event = Event(kind=EventKind(expected["event"]))

    spec = load_path(repo)
    if expected["expected_status"] == "error":
        # Woodpecker refuses the pipeline before running anything; so do we, with a located problem.
        with pytest.raises(PipelineError) as raised:
            build_plan(spec, event)
        assert raised.value.problems and all(p.file for p in raised.value.problems)
        return
    assert not spec.has_errors, [str(p) for p in spec.problems]
    plan = transform(build_plan(spec, event))

    result = run_plan(
        plan,
        executor_factory=executor_factory,
        event=event,
        source_dir=repo,
        work_dir=tmp_path / "work",
        variables=lambda wf, step, ws: ci_variables(
            event, workflow=wf.name, matrix=wf.matrix, step=step.name, workspace=ws
        ),
    )

    assert str(result.status) == expected["expected_status"]
    got_steps = Counter((s.name, str(s.status), s.exit_code) for s in result.steps)
    want_steps = Counter((s["name"], s["status"], s["exit_code"]) for s in expected["expected_steps"])
    assert got_steps == want_steps
    if "expected_workflows" in expected:
        got_workflows = {(wf.name, str(wf.status)) for wf in result.workflows}
        assert got_workflows == {(wf["name"], wf["status"]) for wf in expected["expected_workflows"]}
