"""Pipeline layer: the typed form of what the user wrote (Woodpecker, Drone or She-Ra YAML).

The spec is faithful to the file, positions included; it is not executable. ``pipeline.planner`` turns a
spec plus an ``Event`` into a ``model.plan.Plan``. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shera.model.problems import Problem
from shera.pipeline.yamlload import Pos


@dataclass(frozen=True, slots=True)
class Constraint:
    """An include/exclude pattern list (``branch: main`` is ``include=("main",)``).

    An empty constraint (neither include nor exclude) matches everything.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    pos: Pos | None = None


@dataclass(frozen=True, slots=True)
class PathConstraint:
    """``when: path``: globs over the changed files; ``ignore_message`` in the commit message disables it;
    ``on_empty`` is the answer when the event changed no file."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore_message: str | None = None
    on_empty: bool = True
    pos: Pos | None = None


@dataclass(frozen=True, slots=True)
class WhenClause:
    """One item of a ``when`` list: every field that is set must match (AND). Items of the list are ORed."""

    event: Constraint | None = None
    branch: Constraint | None = None
    ref: Constraint | None = None
    cron: Constraint | None = None
    repo: Constraint | None = None
    instance: Constraint | None = None
    platform: Constraint | None = None
    status: tuple[str, ...] = ()
    matrix: dict[str, str] = field(default_factory=dict)
    path: PathConstraint | None = None
    evaluate: str | None = None
    evaluate_pos: Pos | None = None
    pos: Pos | None = None


@dataclass(frozen=True, slots=True)
class FromSecret:
    """``environment: {X: {from_secret: name}}``: the value is the secret ``name``."""

    name: str


EnvValue = str | FromSecret


@dataclass(frozen=True, slots=True)
class Dependency:
    """An entry of ``depends_on``; ``optional`` ones are dropped when the target is absent or filtered out."""

    name: str
    optional: bool = False
    pos: Pos | None = None


@dataclass(slots=True)
class StepSpec:
    """One step or service as written. ``depends_on`` is ``None`` when the key was absent (not ``[]``)."""

    name: str
    pos: Pos
    image: str | None = None
    commands: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, EnvValue] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    when: tuple[WhenClause, ...] = ()
    depends_on: tuple[Dependency, ...] | None = None
    failure: str = "fail"
    detach: bool = False
    directory: str | None = None
    privileged: bool = False
    pull: bool = False
    ports: tuple[int, ...] = ()
    volumes: tuple[str, ...] = ()
    timeout_s: float | None = None
    uses: str | None = None
    with_: dict[str, Any] = field(default_factory=dict)
    is_service: bool = False


@dataclass(frozen=True, slots=True)
class MatrixSpec:
    """``matrix:``: the cross product of ``axes``, or exactly the rows of ``include`` when it is given."""

    axes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    include: tuple[dict[str, str], ...] = ()

    def rows(self) -> list[dict[str, str]]:
        if self.include:
            return [dict(row) for row in self.include]
        rows: list[dict[str, str]] = [{}]
        for axis, values in self.axes.items():
            rows = [{**row, axis: value} for row in rows for value in values]
        return rows if self.axes else []


@dataclass(slots=True)
class WorkflowSpec:
    """One workflow: a Woodpecker file, or one Drone ``kind: pipeline`` document."""

    name: str
    file: str
    pos: Pos
    steps: list[StepSpec] = field(default_factory=list)
    services: list[StepSpec] = field(default_factory=list)
    when: tuple[WhenClause, ...] = ()
    depends_on: tuple[Dependency, ...] = ()
    matrix: MatrixSpec | None = None
    labels: dict[str, str] = field(default_factory=dict)
    workspace_base: str | None = None
    workspace_path: str | None = None
    clone: list[StepSpec] | None = None
    skip_clone: bool = False
    runs_on: tuple[str, ...] = ()
    dialect: str = "woodpecker"


@dataclass(slots=True)
class PipelineSpec:
    """All workflows of a repository (or of the files given), with every problem found while reading them."""

    workflows: list[WorkflowSpec] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(problem.is_error for problem in self.problems)
