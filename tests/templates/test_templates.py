"""The shipped templates (pipelines/templates): they lint clean, take their base images as build arguments
with registry-neutral defaults, document how to use them, and their own unit tests pass."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shera.pipeline.loader import load_path
from shera.plugins import Registry
from shera.steps.templates import Template, TemplateCatalog

CATALOG = TemplateCatalog()
TEMPLATES = CATALOG.templates()
IDS = [template.name for template in TEMPLATES]
ARG = re.compile(r"^ARG\s+(\w+)(?:=(\S+))?\s*$")
FROM = re.compile(r"^FROM\s+(\S+)", re.IGNORECASE)


def instructions(containerfile: Path) -> list[str]:
    """The Containerfile's instructions, comments dropped and continuation lines joined."""
    joined = re.sub(r"\\\n", " ", containerfile.read_text())
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def registry_host(reference: str) -> str | None:
    """The registry host a reference names (the docker rule: a first path part with '.' or ':', or
    'localhost'), or None for a short name."""
    first, slash, _rest = reference.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def test_the_catalog_ships_the_four_templates() -> None:
    assert IDS == ["java-war", "node-web", "python-web", "static-site"]
    assert all(template.description for template in TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_every_template_lints_clean(template: Template) -> None:
    spec = load_path(template.path, registry=Registry.from_entry_points())
    assert [str(problem) for problem in spec.problems] == []
    assert spec.workflows, "the pipeline has a workflow"


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_base_images_are_build_args_with_short_name_defaults(template: Template) -> None:
    lines = instructions(template.path / "Containerfile")
    first_from = next(i for i, line in enumerate(lines) if FROM.match(line))
    args: dict[str, str | None] = {
        m.group(1): m.group(2) for line in lines[:first_from] if (m := ARG.match(line))
    }
    assert "BASE_IMAGE" in args, "BASE_IMAGE is declared before the first FROM"
    for name, default in args.items():
        assert default, f"{name} has a default so a plain build works where the short name resolves"
        assert registry_host(default) is None, f"{name}={default} names a registry host"
    for line in lines:
        match = FROM.match(line)
        if match:
            assert re.fullmatch(r"\$\{\w+\}", match.group(1)), f"{line!r}: FROM takes a build argument"
            assert match.group(1)[2:-1] in args
    # The final stage runs on BASE_IMAGE.
    last_from = [line for line in lines if FROM.match(line)][-1]
    assert last_from.split()[1] == "${BASE_IMAGE}"


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_the_pipeline_builds_with_the_containerfile_args(template: Template) -> None:
    spec = load_path(template.path, registry=Registry.from_entry_points())
    steps = [step for workflow in spec.workflows for step in workflow.steps]
    builds = [step for step in steps if step.uses == "build"]
    assert len(builds) == 1
    declared = {
        m.group(1) for line in instructions(template.path / "Containerfile") if (m := ARG.match(line))
    }
    assert set(builds[0].with_["build_args"]) <= declared
    assert "BASE_IMAGE" in builds[0].with_["build_args"]
    assert any(step.uses == "deploy" for step in steps)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_the_readme_says_how_to_use_it(template: Template) -> None:
    readme = (template.path / "README.md").read_text()
    assert f"shera init --template {template.name}" in readme
    assert "BASE_IMAGE" in readme
    assert "--build-arg" in readme


def test_java_war_readme_says_it_is_not_built_in_tests() -> None:
    readme = (CATALOG.get("java-war").path / "README.md").read_text()
    assert "do not build it" in readme and "Tomcat" in readme


def test_python_web_unit_tests_pass(tmp_path: Path) -> None:
    # Given a scaffolded python-web repository, its own test command (the pipeline's test step) passes.
    CATALOG.scaffold("python-web", tmp_path / "app")
    done = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=tmp_path / "app",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 3 tests" in done.stderr


def test_node_web_tests_pass(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    CATALOG.scaffold("node-web", tmp_path / "app")
    done = subprocess.run(
        [node, "--test", "test/"],
        cwd=tmp_path / "app",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# pass 3" in done.stdout
