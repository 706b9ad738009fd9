"""Whole pipelines on real podman: the upstream e2e scenarios, and a service with a shared workspace.

Nothing can be pulled here, so images named by a pipeline are mapped to locally built stand-ins before the run
(``PodmanTestEnv.stand_ins``: ``dummy`` → a busybox image honouring ``SLEEP`` and ``STEP_EXIT_CODE`` as
Woodpecker's dummy backend does; ``busybox``/``alpine`` → busybox). The mapping changes only image names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from shera.executors.podman import PodmanExecutor
from shera.model.event import Event
from shera.model.plan import Plan, StepPlan
from shera.model.status import Status
from shera.pipeline.loader import load_path
from shera.pipeline.planner import build_plan
from shera.pipeline.variables import ci_variables
from shera.runtime.engine import run_plan
from shera.runtime.masking import SecretMasker
from tests.runtime.support import Recorder
from tests.runtime.test_scenarios import check_scenario, scenario_names
from tests.support.podman import PodmanTestEnv

pytestmark = pytest.mark.podman

MakeExecutor = Callable[..., PodmanExecutor]


def with_stand_ins(stand_ins: Mapping[str, str]) -> Callable[[Plan], Plan]:
    """A plan transform mapping each step's and service's image (with or without tag) to its stand-in."""

    def image(step: StepPlan) -> StepPlan:
        if step.image is None:
            return step
        bare = step.image.split(":", 1)[0]
        return dataclasses.replace(step, image=stand_ins.get(step.image, stand_ins.get(bare, step.image)))

    def transform(plan: Plan) -> Plan:
        workflows = tuple(
            dataclasses.replace(
                wf,
                stages=tuple(tuple(image(step) for step in stage) for stage in wf.stages),
                services=tuple(image(service) for service in wf.services),
            )
            for wf in plan.workflows
        )
        return Plan(workflows)

    return transform


@pytest.mark.parametrize("name", scenario_names())
def test_upstream_e2e_scenario_on_podman(
    name: str, tmp_path: Path, podman_env: PodmanTestEnv, podman_executor_factory: MakeExecutor
) -> None:
    check_scenario(
        name, tmp_path, lambda _wf: podman_executor_factory(), with_stand_ins(podman_env.stand_ins)
    )
    assert podman_env.podman("ps", "-a", "-q").stdout.strip() == ""


PIPELINE = """
services:
  - name: web
    image: busybox
    commands:
      - mkdir -p /srv && echo "hello from the service" > /srv/index.html
      - httpd -f -p 127.0.0.1:8080 -h /srv

steps:
  - name: write
    image: busybox
    environment:
      TOKEN:
        from_secret: api_token
    commands:
      - echo "built by $CI_STEP_NAME with $TOKEN" > artifact.txt
      - echo "token is $TOKEN"

  - name: read
    image: busybox
    commands:
      - cat artifact.txt
      - for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://web:8080/ && break; sleep 0.3; done
      - wget -q -O - http://127.0.0.1:8080/
"""


def test_two_steps_share_the_workspace_and_reach_a_service(
    tmp_path: Path, podman_env: PodmanTestEnv, podman_executor_factory: MakeExecutor
) -> None:
    # Given a repository whose pipeline has a service and two steps handing a file over
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".woodpecker.yml").write_text(PIPELINE)
    event = Event(branch="main")
    spec = load_path(repo)
    assert not spec.has_errors, [str(p) for p in spec.problems]
    plan = with_stand_ins(podman_env.stand_ins)(build_plan(spec, event))
    recorder = Recorder()

    # When it runs on podman
    result = run_plan(
        plan,
        executor_factory=lambda _wf: podman_executor_factory(),
        event=event,
        secrets={"api_token": "tok-3141592653"},
        source_dir=repo,
        work_dir=tmp_path / "work",
        reporter=recorder,
        variables=lambda wf, step, ws: ci_variables(
            event, workflow=wf.name, matrix=wf.matrix, step=step.name, workspace=ws
        ),
    )

    # Then both succeed, the second reads the first one's file, the service answers by name and on 127.0.0.1
    assert result.status is Status.SUCCESS, json.dumps(result.summary())
    output = b"".join(recorder.output.values()).decode()
    assert "built by write with ********" in output
    assert "token is ********" in output and "tok-3141592653" not in output
    assert output.count("hello from the service") >= 2
    # and nothing of the run is left behind
    assert podman_env.podman("ps", "-a", "-q").stdout.strip() == ""
    assert podman_env.podman("pod", "ps", "-q").stdout.strip() == ""
    assert SecretMasker(["tok-3141592653"]).mask(output.encode()) == output.encode()
