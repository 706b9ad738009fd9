"""Pipeline layer: the linter; semantic problems of a whole ``PipelineSpec`` (what the readers cannot see).

Checks: duplicate workflow, step and service names; ``depends_on`` cycles and missing targets between steps
and between workflows (optional dependencies are never an error); steps without an image (a warning for
workflows on the local backend, none for ``uses:`` steps); ``evaluate`` expressions and glob patterns of
``when``; ``uses:`` kinds unknown to the registry and ``with:`` checked against the kind's pydantic model;
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from shera.errors import ConfigError
from shera.model.problems import Problem, Severity
from shera.pipeline.expr import ExpressionError, compile_expression
from shera.pipeline.globs import glob_problem
from shera.pipeline.keys import closest
from shera.pipeline.spec import Dependency, PipelineSpec, StepSpec, WhenClause, WorkflowSpec
from shera.pipeline.yamlload import LDict, LList, Pos
from shera.plugins import STEP_KINDS, Registry

_CONTAINER_BACKENDS = frozenset({"docker", "kubernetes", "podman"})


def lint(spec: PipelineSpec, registry: Registry | None, *, complete: bool = True) -> list[Problem]:
    """Every semantic problem of ``spec``.

    ``registry=None``: the ``with:`` of ``uses:`` steps is not validated (only the readers' shape checks
    apply). ``complete=False`` says ``spec`` holds only some workflow files of a repository, so a
    ``depends_on`` naming a workflow from another file is a warning, not an error.
    """
    out: list[Problem] = []
    _duplicates(((w.name, w.pos) for w in spec.workflows), "workflow", out)
    names = {w.name for w in spec.workflows}
    graph = {w.name: (w.depends_on, w.pos) for w in spec.workflows}
    for workflow in spec.workflows:
        found: list[Problem] = []
        where = f"workflow '{workflow.name}'"
        _missing(workflow.depends_on, names, where, "workflow", pos=workflow.pos, out=found)
        if workflow.dialect == "woodpecker":
            # Woodpecker filters such a workflow out and runs its siblings (e2e scenario 16).
            note = "the workflow never runs" if complete else "lint the repository folder to check it"
            found = [_as_warning(p, note, complete=complete) for p in found]
        out.extend(found)
        _workflow(workflow, registry, out)
    _cycles(graph, "workflow", out)
    return out


def _workflow(workflow: WorkflowSpec, registry: Registry | None, out: list[Problem]) -> None:
    steps, services = workflow.steps, workflow.services
    _duplicate_steps(steps, out)
    _duplicates(((s.name, s.pos) for s in services), "service", out)
    backend = workflow.labels.get("backend")
    local = backend is not None and backend not in _CONTAINER_BACKENDS
    step_names = {step.name for step in steps}
    for step in [*steps, *services, *(workflow.clone or [])]:
        _image(step, local, out)
        _when(step.when, out)
        if step.uses is not None:
            _uses(step, registry, out)
        if step.depends_on is not None and not step.is_service:
            where = f"step '{step.name}'"
            _missing(step.depends_on, step_names, where, "step", pos=step.pos, out=out)
    _cycles({s.name: (s.depends_on or (), s.pos) for s in steps}, "step", out)
    _when(workflow.when, out)


def _as_warning(problem: Problem, note: str, *, complete: bool) -> Problem:
    suffix = "; the workflow is skipped" if complete else " (not among the files given)"
    return Problem(
        problem.file,
        problem.line,
        problem.column,
        Severity.WARNING,
        problem.kind,
        f"{problem.message}{suffix}",
        problem.hint or note,
    )


def _problem(pos: Pos, severity: Severity, kind: str, message: str, hint: str | None = None) -> Problem:
    return Problem(pos.file, pos.line, pos.column, severity, kind, message, hint)


def _duplicates(items: Iterable[tuple[str, Pos]], what: str, out: list[Problem]) -> None:
    seen: dict[str, Pos] = {}
    for name, pos in items:
        if name in seen:
            first = seen[name]
            out.append(
                _problem(
                    pos,
                    Severity.ERROR,
                    "duplicate",
                    f"duplicate {what} name '{name}'",
                    f"first defined at {first.file}:{first.line}; names must be unique",
                )
            )
        else:
            seen[name] = pos


def _duplicate_steps(steps: Sequence[StepSpec], out: list[Problem]) -> None:
    """Step names must be unique, except between steps that never run in the same pipeline: their
    ``when`` event filters are disjoint (``configure`` on push and another ``configure`` on tag)."""
    seen: dict[str, list[StepSpec]] = {}
    for step in steps:
        earlier = seen.setdefault(step.name, [])
        clash = next((other for other in earlier if not _exclusive(other, step)), None)
        if clash is not None:
            out.append(
                _problem(
                    step.pos,
                    Severity.ERROR,
                    "duplicate",
                    f"duplicate step name '{step.name}'",
                    f"first defined at {clash.pos.file}:{clash.pos.line}; names must be unique "
                    "unless the steps' event filters exclude each other",
                )
            )
        earlier.append(step)


def _events(step: StepSpec) -> set[str] | None:
    """The events a step can run on, or ``None`` when some ``when`` item does not filter on events."""
    if not step.when:
        return None
    events: set[str] = set()
    for clause in step.when:
        if clause.event is None or not clause.event.include:
            return None
        events.update(clause.event.include)
    return events


def _exclusive(first: StepSpec, second: StepSpec) -> bool:
    a, b = _events(first), _events(second)
    return a is not None and b is not None and not a & b


def _missing(
    deps: Sequence[Dependency], names: set[str], where: str, what: str, *, pos: Pos, out: list[Problem]
) -> None:
    for dep in deps:
        if dep.name in names or dep.optional:
            continue
        hint = closest(dep.name, names)
        out.append(
            _problem(
                dep.pos or pos,
                Severity.ERROR,
                "missing_dependency",
                f"{where} depends on unknown {what} '{dep.name}'",
                f"did you mean '{hint}'? (or mark it optional)"
                if hint
                else "mark it {name: ..., optional: true} if it may be absent",
            )
        )


def _cycles(graph: Mapping[str, tuple[Sequence[Dependency], Pos]], what: str, out: list[Problem]) -> None:
    """One ``cycle`` error per cycle, at the dependency that closes it."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        deps, pos = graph[name]
        for dep in deps:
            if dep.name not in graph:
                continue
            if state.get(dep.name) == 1:
                loop = [*path[path.index(dep.name) :], dep.name]
                out.append(
                    _problem(
                        dep.pos or pos,
                        Severity.ERROR,
                        "cycle",
                        f"{what} dependency cycle: {' -> '.join(loop)}",
                        "remove one of these depends_on entries",
                    )
                )
            elif dep.name not in state:
                visit(dep.name)
        path.pop()
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name)


def _image(step: StepSpec, local: bool, out: list[Problem]) -> None:
    if step.image or step.uses is not None:
        return
    what = "service" if step.is_service else "step"
    if local:
        out.append(
            _problem(
                step.pos,
                Severity.WARNING,
                "missing",
                f"{what} '{step.name}' has no image",
                "the local backend ignores it; other backends need one",
            )
        )
    else:
        out.append(
            _problem(
                step.pos,
                Severity.ERROR,
                "missing",
                f"{what} '{step.name}' has no image",
                "add 'image:' (or 'uses:' for a She-Ra step kind)",
            )
        )


def _when(clauses: Sequence[WhenClause], out: list[Problem]) -> None:
    for clause in clauses:
        if clause.evaluate is not None:
            pos = clause.evaluate_pos or clause.pos
            try:
                compile_expression(clause.evaluate)
            except ExpressionError as exc:
                if pos is not None:
                    at = Pos(pos.file, pos.line, pos.column + max(exc.column - 1, 0))
                    out.append(
                        _problem(
                            at,
                            Severity.ERROR,
                            "expression",
                            f"invalid evaluate expression: {exc.message} (column {exc.column})",
                            f"in {clause.evaluate!r}",
                        )
                    )
        for name in ("branch", "ref", "cron", "repo", "instance", "platform", "path"):
            constraint = getattr(clause, name)
            if constraint is None:
                continue
            for pattern in (*constraint.include, *constraint.exclude):
                message = glob_problem(pattern)
                where: Pos | None = constraint.pos or clause.pos
                if message is not None and where is not None:
                    text = f"invalid {name} pattern {pattern!r}: {message}"
                    out.append(_problem(where, Severity.ERROR, "glob", text))


def _uses(step: StepSpec, registry: Registry | None, out: list[Problem]) -> None:
    kind = step.uses or ""
    if registry is None:
        return
    known = registry.names(STEP_KINDS)
    if kind not in known:
        hint = closest(kind, known)
        out.append(
            _problem(
                step.pos,
                Severity.ERROR,
                "unknown_kind",
                f"step '{step.name}': unknown kind '{kind}' in uses:; known: {', '.join(known) or 'none'}",
                f"did you mean '{hint}'?" if hint else None,
            )
        )
        return
    try:
        model = registry.get(STEP_KINDS, kind)
    except ConfigError as exc:
        out.append(_problem(step.pos, Severity.ERROR, "unknown_kind", str(exc)))
        return
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return
    try:
        model.model_validate(_plain(step.with_))
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error.get("loc", ()))
            pos = _pos_at(step.with_, loc) or step.pos
            where = ".".join(str(part) for part in loc)
            message = (
                f"step '{step.name}': with.{where}: {error.get('msg')}"
                if where
                else (f"step '{step.name}': with: {error.get('msg')}")
            )
            out.append(_problem(pos, Severity.ERROR, "with", message))


def _plain(value: Any) -> Any:
    """``LDict``/``LList`` to built-in ``dict``/``list`` (what a strict pydantic model expects)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _pos_at(root: Any, loc: tuple[Any, ...]) -> Pos | None:
    """The position of the key (or item) that ``loc`` names below ``with:``; parts that do not match the
    document (union branch names, model names) are skipped."""
    node, pos = root, (root.pos if isinstance(root, LDict) else None)
    for part in loc:
        if isinstance(node, LDict) and isinstance(part, str) and part in node:
            pos, node = node.pos_of(part), node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            pos, node = node.pos_at(part), node[part]
    return pos
