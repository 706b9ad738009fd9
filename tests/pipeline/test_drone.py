"""Reading Drone files (1.x multi-document and 0.8) into the spec (shera.pipeline.drone)."""

from __future__ import annotations

from pathlib import Path

from shera.pipeline.loader import load_path
from shera.pipeline.spec import FromSecret, PipelineSpec

DRONE_1X = """
kind: pipeline
type: docker
name: test
platform: {os: linux, arch: arm64}
workspace: {path: /drone/src}
clone: {disable: true}
environment:
  GLOBAL: one
  SHARED: pipeline
volumes:
  - name: sock
    host: {path: /var/run/docker.sock}
  - name: cache
    temp: {}
steps:
  - name: build
    image: golang
    pull: if-not-exists
    environment:
      SHARED: step
      TOKEN: {from_secret: token}
    volumes:
      - {name: sock, path: /var/run/docker.sock}
      - {name: cache, path: /cache}
    commands: [go build]
  - name: publish
    image: plugins/docker
    settings: {repo: x/y}
    environment: {EXTRA: "1"}
    depends_on: [build]
    when:
      event: [promote, custom]
      target: [production]
services:
  - name: redis
    image: redis
trigger:
  branch: [main]
  event:
    exclude: [pull_request]
---
kind: secret
name: token
get: {path: secret/data/x, name: token}
---
kind: pipeline
type: exec
name: after
depends_on: [test]
steps:
  - name: local
    commands: [make]
---
kind: signature
hmac: abc
"""


def load(tmp_path: Path, text: str, name: str = ".drone.yml") -> PipelineSpec:
    path = tmp_path / name
    path.write_text(text)
    return load_path(path)


def test_pipelines_become_workflows(tmp_path: Path) -> None:
    spec = load(tmp_path, DRONE_1X)
    # the exec pipeline's step has no image: only a warning there
    assert [(str(p.severity), p.kind) for p in spec.problems] == [("warning", "missing")]
    test, after = spec.workflows
    assert (test.name, test.dialect, after.name) == ("test", "drone", "after")
    assert after.depends_on[0].name == "test" and after.labels["backend"] == "local"
    assert test.labels["platform"] == "linux/arm64"
    assert test.skip_clone and test.workspace_base == "/drone/src"
    trigger = test.when[0]
    assert trigger.branch is not None and trigger.branch.include == ("main",)
    assert trigger.event is not None and trigger.event.exclude == ("pull_request",)


def test_steps_merge_pipeline_environment_and_bind_host_volumes(tmp_path: Path) -> None:
    build, publish = load(tmp_path, DRONE_1X).workflows[0].steps
    assert build.environment == {"GLOBAL": "one", "SHARED": "step", "TOKEN": FromSecret("token")}
    assert build.volumes == ("/var/run/docker.sock:/var/run/docker.sock", "cache:/cache")
    assert build.pull is False
    # Drone allows settings next to environment
    assert publish.settings == {"repo": "x/y"}


def test_drone_events_and_target_are_translated(tmp_path: Path) -> None:
    publish = load(tmp_path, DRONE_1X).workflows[0].steps[1]
    clause = publish.when[0]
    assert clause.event is not None and clause.event.include == ("deployment", "manual")
    assert clause.evaluate == '(CI_PIPELINE_DEPLOY_TARGET == "production")'


def test_unknown_keys_and_events_are_errors(tmp_path: Path) -> None:
    text = (
        "kind: pipeline\nname: x\nstep:\n  - name: a\n"
        "steps:\n  - name: a\n    image: x\n    when: {event: pushh}\n"
    )
    spec = load(tmp_path, text)
    found = {(p.line, p.kind, p.hint) for p in spec.problems}
    assert (3, "unknown_key", "did you mean 'steps'?") in found
    assert (8, "value", "did you mean 'push'?") in found


def test_drone_08_file_is_read_with_plugin_parameters(tmp_path: Path) -> None:
    text = """
pipeline:
  build:
    image: golang
    group: test
    commands: [make]
  docker:
    image: plugins/docker
    repo: x/y
    tags: [latest]
    secrets: [docker_password]
    when: {event: [push], status: [changed, failure]}
"""
    spec = load(tmp_path, text)
    assert not spec.has_errors
    (workflow,) = spec.workflows
    assert workflow.name == "default"
    docker = workflow.steps[1]
    assert docker.settings == {"repo": "x/y", "tags": ["latest"]}
    assert docker.environment == {"DOCKER_PASSWORD": FromSecret("docker_password")}
    assert docker.when[0].status == ("failure",)


def test_unknown_document_kind(tmp_path: Path) -> None:
    spec = load(tmp_path, "kind: pipline\nname: x\n")
    (problem,) = spec.problems
    assert (problem.kind, problem.line, problem.column) == ("value", 1, 7)
