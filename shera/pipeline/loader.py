"""Pipeline layer: files on disk to one linted ``PipelineSpec`` (read, pick the dialect, read, lint).

Contract: never raises for bad input. Unreadable files, YAML errors, schema and semantic problems all come
back in ``PipelineSpec.problems`` (sorted by file, line, column), so a caller decides what blocks a run
(``spec.has_errors``). With ``registry=None`` the step kinds of the installed entry points are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shera.model.problems import Problem, Severity
from shera.pipeline import drone, woodpecker
from shera.pipeline.discover import discover, outside_root
from shera.pipeline.lint import lint
from shera.pipeline.spec import PipelineSpec, WorkflowSpec
from shera.pipeline.yamlload import MAX_BYTES, load_documents
from shera.plugins import Registry


def load_path(path: Path, *, registry: Registry | None = None) -> PipelineSpec:
    """A single pipeline file, or a repository directory read through the lookup order."""
    if path.is_dir():
        found = discover(path)
        spec = load_pipeline(found.paths, registry=registry, root=path)
        spec.problems = sorted([*found.problems, *spec.problems], key=_order)
        return spec
    return load_pipeline([path], registry=registry)


def load_pipeline(
    paths: Sequence[Path], *, registry: Registry | None = None, root: Path | None = None
) -> PipelineSpec:
    """Every workflow of ``paths`` (together, so cross-file ``depends_on`` resolves), linted.

    ``root`` (the repository folder) makes problem files relative to it and says the files are the whole
    repository, so a workflow ``depends_on`` naming no loaded workflow is an error (a warning otherwise).
    """
    spec = PipelineSpec()
    for path in paths:
        file = _display(path, root)
        if root is not None and (problem := outside_root(path, root)) is not None:
            spec.problems.append(problem)
            continue
        try:
            workflows, problems = read_file(path, file=file, name=workflow_name(path))
        except Exception as exc:  # last resort: a reader bug must not become a traceback for the user
            message = (
                f"internal error while reading this file ({type(exc).__name__}: {exc}); please report it"
            )
            workflows, problems = [], [Problem(file, 0, 0, Severity.ERROR, "internal", message)]
        spec.workflows.extend(workflows)
        spec.problems.extend(problems)
    if registry is None:
        registry = Registry.from_entry_points()
    spec.problems.extend(lint(spec, registry, complete=root is not None))
    spec.problems.sort(key=_order)
    return spec


def read_file(path: Path, *, file: str, name: str) -> tuple[list[WorkflowSpec], list[Problem]]:
    """The workflows of one file (not linted) and the problems met reading it."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            message = f"file is {size} bytes; the limit is {MAX_BYTES} bytes"
            return [], [Problem(file, 0, 0, Severity.ERROR, "limit", message)]
        data = path.read_bytes()
    except OSError as exc:
        return [], [Problem(file, 0, 0, Severity.ERROR, "io", f"cannot read file: {exc.strerror or exc}")]
    docs, problems = load_documents(data, file)
    if problems:
        return [], problems
    if not docs:
        return [], [Problem(file, 0, 0, Severity.ERROR, "missing", "the file is empty")]
    if drone.is_drone(docs, file):
        return drone.read_drone(docs, file=file)
    shera_file = path.name.startswith(".shera") or path.parent.name == ".shera"
    workflow, problems = woodpecker.read_workflow(docs[0], file=file, name=name, shera_file=shera_file)
    for extra in docs[1:]:
        problems.append(
            Problem(
                file,
                extra.pos.line,
                extra.pos.column,
                Severity.ERROR,
                "yaml",
                "a Woodpecker workflow file holds one YAML document; this one is ignored",
                "put each workflow in its own file under .woodpecker/",
            )
        )
    return ([workflow] if workflow is not None else []), problems


def workflow_name(path: Path) -> str:
    """``.woodpecker/NAME.yml`` -> NAME; ``.woodpecker.yml`` -> woodpecker; ``.shera.yml`` -> shera.

    A leading dot is dropped (``.woodpecker/.build.yml`` is ``build``), as Woodpecker does.
    """
    if path.name in (".woodpecker.yml", ".woodpecker.yaml"):
        return "woodpecker"
    if path.name in (".shera.yml", ".shera.yaml"):
        return "shera"
    return path.stem.lstrip(".") or path.stem


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            return str(path)
    return str(path)


def _order(problem: Problem) -> tuple[str, int, int]:
    return (problem.file, problem.line, problem.column)
