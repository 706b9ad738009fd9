"""Pipeline layer (planner part): one ``StepSpec`` plus the run's variables to an executable ``StepPlan``.

The kind follows Woodpecker: ``uses:`` makes a She-Ra step, a service stays a service, a step with neither
``commands`` nor ``entrypoint`` runs its image's own entrypoint (a plugin, configured by ``PLUGIN_*``), any
other step runs its commands. ``${...}`` is substituted in the image, commands, entrypoint, environment
values, settings, ``with:`` and directory. ``environment: {X: {from_secret: s}}`` and secret-valued
settings go to ``StepPlan.secrets``; the runtime injects the values. Substitution problems are collected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from shera.model.plan import StepKind, StepPlan
from shera.model.problems import Problem, Severity
from shera.pipeline.planner_settings import settings_env
from shera.pipeline.spec import Constraint, FromSecret, PathConstraint, StepSpec, WhenClause
from shera.pipeline.substitute import SubstitutionError, substitute, substitute_value
from shera.pipeline.yamlload import Pos

T = TypeVar("T")


class Substituter:
    """``${...}`` substitution with one set of variables; problems are appended to ``problems``."""

    def __init__(self, variables: Mapping[str, str], problems: list[Problem]) -> None:
        self.variables = variables
        self.problems = problems

    def _guard(self, fn: Callable[[], T], fallback: T, pos: Pos | None, what: str) -> T:
        try:
            return fn()
        except SubstitutionError as exc:
            self.problems.append(
                Problem(
                    pos.file if pos else "",
                    pos.line if pos else 0,
                    pos.column if pos else 0,
                    Severity.ERROR,
                    "substitution",
                    f"{what}: {exc}",
                    "write $${...} for a literal '${' that the step's shell should see",
                )
            )
            return fallback

    def text(self, value: str, pos: Pos | None, what: str) -> str:
        return self._guard(lambda: substitute(value, self.variables), value, pos, what)

    def texts(self, values: tuple[str, ...], pos: Pos | None, what: str) -> tuple[str, ...]:
        return tuple(self.text(value, pos, what) for value in values)

    def value(self, value: Any, pos: Pos | None, what: str) -> Any:
        return self._guard(lambda: substitute_value(value, self.variables), value, pos, what)

    def when(self, clauses: tuple[WhenClause, ...], what: str) -> tuple[WhenClause, ...]:
        """``clauses`` with patterns, matrix values and ``evaluate`` substituted (Woodpecker substitutes the
        whole file, so ``branch: ${CI_REPO_DEFAULT_BRANCH}`` is the default branch)."""
        return tuple(self._clause(clause, what) for clause in clauses)

    def _clause(self, clause: WhenClause, what: str) -> WhenClause:
        pos = clause.pos

        def constraint(c: Constraint | None) -> Constraint | None:
            if c is None:
                return None
            return replace(
                c, include=self.texts(c.include, pos, what), exclude=self.texts(c.exclude, pos, what)
            )

        path: PathConstraint | None = clause.path
        if path is not None:
            path = replace(
                path, include=self.texts(path.include, pos, what), exclude=self.texts(path.exclude, pos, what)
            )
        return replace(
            clause,
            event=constraint(clause.event),
            branch=constraint(clause.branch),
            ref=constraint(clause.ref),
            cron=constraint(clause.cron),
            repo=constraint(clause.repo),
            instance=constraint(clause.instance),
            platform=constraint(clause.platform),
            matrix={axis: self.text(value, pos, what) for axis, value in clause.matrix.items()},
            path=path,
            evaluate=self.text(clause.evaluate, clause.evaluate_pos or pos, what)
            if clause.evaluate
            else None,
        )


def step_kind(spec: StepSpec) -> StepKind:
    if spec.uses:
        return StepKind.USES
    if spec.is_service:
        return StepKind.SERVICE
    if not spec.commands and spec.entrypoint is None:
        return StepKind.PLUGIN
    return StepKind.COMMANDS


def step_plan(
    spec: StepSpec,
    sub: Substituter,
    *,
    kind: StepKind | None = None,
    run_on: frozenset[str] = frozenset({"success"}),
    depends_on: tuple[str, ...] = (),
) -> StepPlan:
    """The executable form of ``spec``; ``kind`` overrides the derived kind (clone steps)."""
    what = f"step {spec.name!r}"
    environment: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for key, value in spec.environment.items():
        if isinstance(value, FromSecret):
            secrets[key] = value.name
        else:
            environment[key] = sub.text(value, spec.pos, what)
    if spec.settings:
        plugin_env, plugin_secrets = settings_env(sub.value(spec.settings, spec.pos, what))
        environment.update(plugin_env)
        secrets.update(plugin_secrets)
    entrypoint = sub.texts(spec.entrypoint, spec.pos, what) if spec.entrypoint is not None else None
    with_ = sub.value(spec.with_, spec.pos, what) if spec.with_ else {}
    return StepPlan(
        name=spec.name,
        kind=kind or step_kind(spec),
        image=sub.text(spec.image, spec.pos, what) if spec.image is not None else None,
        commands=sub.texts(spec.commands, spec.pos, what),
        entrypoint=entrypoint,
        environment=environment,
        secrets=secrets,
        failure_ignore=spec.failure == "ignore",
        detach=spec.detach,
        run_on=run_on,
        timeout_s=spec.timeout_s,
        depends_on=depends_on,
        directory=sub.text(spec.directory, spec.pos, what) if spec.directory is not None else None,
        privileged=spec.privileged,
        ports=spec.ports,
        uses=spec.uses,
        with_=with_,
        file=spec.pos.file,
        line=spec.pos.line,
    )


def default_clone(*, tag_event: bool, file: str) -> StepPlan:
    """Woodpecker's implicit clone step: full history, and the tags for tag events.

    It has no image: the runtime fills the workspace itself (a copy of the repository for ``shera exec``, a
    checkout of the exact commit from the git mirror in the server).
    """
    environment = {"PLUGIN_DEPTH": "0"}
    if tag_event:
        environment["PLUGIN_TAGS"] = "true"
    return StepPlan(name="clone", kind=StepKind.CLONE, environment=environment, file=file)
