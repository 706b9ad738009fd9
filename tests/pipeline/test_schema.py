"""The JSON Schema of the pipeline file: committed copy, Woodpecker fixtures and corpus, She-Ra steps."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
from pydantic import BaseModel
from typer.testing import CliRunner

from shera.cli import schema_cmd
from shera.pipeline.schema import pipeline_schema, schema_text
from shera.pipeline.yamlload import load_documents
from shera.plugins import STEP_KINDS, Registry
from tests.support.corpus import ROOT, need_corpus

COMMITTED = ROOT / "pipelines" / "schema.json"
FIXTURES = "pipelines/woodpecker-upstream-fixtures"
# Woodpecker fixtures the schema must reject although their name does not say "broken".
INVALID_FIXTURES = {"test-concurrency-invalid.yml"}
# Real files the schema rejects, with the reason (the linter decides how severe each one is).
PLUGIN_WITH_ENV = "a plugin step (settings) with environment, which Woodpecker 3 forbids"
KNOWN_CORPUS_REJECTS = {
    f"OrvilleQ__Godot-CI__.woodpecker__{name}.yml": PLUGIN_WITH_ENV for name in ("build", "release", "test")
}


def test_committed_schema_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        "pipelines/schema.json is stale; regenerate it with: .venv/bin/shera schema > pipelines/schema.json"
    )


def test_output_is_deterministic_and_lists_every_registered_kind() -> None:
    assert schema_text() == schema_text()
    uses = pipeline_schema()["$defs"]["shera_step"]["properties"]["uses"]["enum"]
    assert uses == Registry.from_entry_points((STEP_KINDS,)).names(STEP_KINDS)


def test_a_plugin_kind_is_added_from_the_registry_it_is_given() -> None:
    class CanaryWith(BaseModel):
        weight: int

    registry = Registry()
    registry.register(STEP_KINDS, "canary", CanaryWith)
    registry.register(STEP_KINDS, "opaque", object())
    step = pipeline_schema(registry)["$defs"]["shera_step"]
    assert step["properties"]["uses"]["enum"] == ["canary", "opaque"]
    assert step["allOf"] == [
        {
            "if": {"properties": {"uses": {"const": "canary"}}},
            "then": {"properties": {"with": {"$ref": "#/$defs/CanaryWith"}}, "required": ["with"]},
        }
    ]


def test_shera_schema_command_prints_the_schema() -> None:
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command is called by name as under `shera`
    schema_cmd.register(app)
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert result.stdout == schema_text()
    assert json.loads(result.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# --- validation with an independent JSON Schema implementation -------------------------------------------


def _jsonschema() -> ModuleType:
    try:
        import jsonschema
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("jsonschema (a test extra) is not installed")
        pytest.skip("jsonschema is not installed")
    return jsonschema


@pytest.fixture(scope="module")
def validator() -> Any:
    jsonschema = _jsonschema()
    schema = pipeline_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: Any, path: Path) -> list[str]:
    documents, problems = load_documents(path.read_bytes(), path.name)
    assert not problems, problems
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for document in documents
        for error in validator.iter_errors(json.loads(json.dumps(document.value)))
    ]


def _fixtures(kind: str) -> list[Path]:
    folder = need_corpus() / FIXTURES
    files = sorted(folder.glob("*test-*.yml"))
    broken = [p for p in files if "test-broken" in p.name or p.name.rsplit("__", 1)[-1] in INVALID_FIXTURES]
    return broken if kind == "broken" else [p for p in files if p not in broken]


def test_woodpecker_upstream_fixtures_validate(validator: Any) -> None:
    failures = {path.name: errors for path in _fixtures("valid") if (errors := _errors(validator, path))}
    assert len(_fixtures("valid")) >= 20
    assert failures == {}


def test_woodpecker_broken_fixtures_are_rejected(validator: Any) -> None:
    accepted = [path.name for path in _fixtures("broken") if not _errors(validator, path)]
    assert len(_fixtures("broken")) >= 5
    assert accepted == []


def test_real_woodpecker_files_validate(validator: Any) -> None:
    files = sorted((need_corpus() / "pipelines" / "woodpecker").glob("*.y*ml"))
    results = {path.name: _errors(validator, path) for path in files}
    rejected = {name for name, errors in results.items() if errors}
    unexpected = {name: results[name] for name in rejected - set(KNOWN_CORPUS_REJECTS)}
    assert unexpected == {}
    assert set(KNOWN_CORPUS_REJECTS) <= rejected, "a known reject now validates: drop it from the list"
    assert len(files) - len(rejected) >= 0.95 * len(files)


SHERA_PIPELINE = """
steps:
  - name: test
    image: python:3.11
    commands: [pytest]
  - name: image
    uses: build
    with:
      tags: ["${CI_COMMIT_SHA:0:8}", latest]
  - name: approve
    uses: approve
  - name: ship
    uses: deploy
    depends_on: [image, approve]
    with:
      app: web
      replicas: 2
      ports: [8080]
      volumes: [{name: uploads, mount: /srv/uploads, shared: true}]
      health: {http: {path: /healthz, port: 8080}}
      deadline: 2m
    when:
      branch: main
  - name: publish
    uses: expose
    with: {app: web, zone: public, path: /}
"""


def _validate_text(validator: Any, text: str) -> list[str]:
    documents, problems = load_documents(text, "x.yml")
    assert not problems
    return [error.message for error in validator.iter_errors(json.loads(json.dumps(documents[0].value)))]


def test_a_shera_pipeline_validates(validator: Any) -> None:
    assert _validate_text(validator, SHERA_PIPELINE) == []


@pytest.mark.parametrize(
    ("step", "needle"),
    [
        ("uses: deploy\n    with: {app: web, target: nomad}", "nomad"),
        ("uses: deploy\n    with: {target: podman}", "'app' is a required property"),
        ("uses: deploy", "'with' is a required property"),
        ("uses: teleport", "teleport"),
        ("uses: build\n    image: alpine", "image"),
        ("uses: expose\n    with: {app: Web}", "Web"),
        ("uses: build\n    with: {contxt: .}", "contxt"),
    ],
)
def test_bad_shera_steps_are_rejected(validator: Any, step: str, needle: str) -> None:
    errors = _validate_text(validator, f"steps:\n  - name: s\n    {step}\n")
    assert errors
    assert any(needle in message for message in errors), errors
