"""Pipeline layer: a linted ``PipelineSpec`` plus an ``Event`` to the executable ``Plan`` (pure, no I/O).

What Woodpecker does between receiving a webhook and starting its agents, in the same order:

1. ``[SKIP CI]`` / ``[CI SKIP]`` (any case, spaces allowed inside) in the message of a push or pull request
   skips every workflow.
2. Each workflow expands into one ``WorkflowPlan`` per matrix row (the axes' cross product, or the
   ``include`` rows). ``${...}`` is substituted with the ``CI_*`` variables and the row's values
   (``shera.pipeline.substitute``), then the workflow's ``when`` decides whether it runs.
3. A workflow whose ``depends_on`` names a workflow that is absent or skipped is skipped too, unless that
   entry is ``optional`` (then it is dropped); this repeats until nothing changes.
4. In a running workflow: the clone stage first (Woodpecker's implicit clone unless ``skip_clone`` or a
   ``clone:`` section), then the steps whose ``when`` matches, staged by ``shera.pipeline.dag``. Steps and
   services that do not match are listed in ``skipped_steps``.
5. A step's ``depends_on`` entry naming a step that is filtered out is dropped when ``optional``; otherwise it
   is an error, as in Woodpecker (Drone pipelines drop it: Drone treats skipped steps as done). Entries naming
   ``clone`` or a service are dropped: both are running before any step starts.

Contract: raises ``PipelineError`` with every problem when ``spec.has_errors``, and with every planning
problem (bad substitution, a required dependency filtered out, a cycle) otherwise; never loops on bad input.
Skipped workflows stay in the plan (``skipped=True``, no stages, their steps in ``skipped_steps``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shera.errors import PipelineError
from shera.model.event import Event, EventKind
from shera.model.plan import Plan, StepKind, StepPlan, WorkflowPlan, Workspace
from shera.model.problems import Problem, Severity
from shera.pipeline.dag import Node, stage
from shera.pipeline.expr import ExpressionError
from shera.pipeline.planner_steps import Substituter, default_clone, step_plan
from shera.pipeline.spec import PipelineSpec, StepSpec, WhenClause, WorkflowSpec
from shera.pipeline.variables import ci_variables
from shera.pipeline.when import MatchContext, run_statuses
from shera.pipeline.yamlload import Pos

SKIP_CI = re.compile(r"\[(?i:ci *skip|skip *ci)\]")
SKIP_CI_EVENTS = frozenset({EventKind.PUSH, EventKind.PULL_REQUEST, EventKind.PULL_REQUEST_CLOSED})


def skips_ci(event: Event) -> bool:
    """The commit message asks Woodpecker not to run anything for this event."""
    return event.kind in SKIP_CI_EVENTS and SKIP_CI.search(event.message) is not None


@dataclass
class _Candidate:
    """One workflow and matrix row while the workflow-level decisions are made."""

    spec: WorkflowSpec
    matrix: dict[str, str]
    variables: dict[str, str]
    sub: Substituter
    run_on: frozenset[str] | None


def build_plan(spec: PipelineSpec, event: Event, *, env: Mapping[str, str] | None = None) -> Plan:
    """The plan Woodpecker would run for ``event``; ``env`` adds variables (it never overrides ``CI_*``)."""
    if spec.has_errors:
        raise _error(spec.problems)
    problems: list[Problem] = []
    skip_all = skips_ci(event)
    candidates: list[_Candidate] = []
    for workflow in spec.workflows:
        rows = workflow.matrix.rows() if workflow.matrix is not None else []
        for row in rows or [{}]:
            variables = ci_variables(event, workflow=workflow.name, matrix=row)
            for key, value in (env or {}).items():
                variables.setdefault(key, value)
            sub = Substituter(variables, problems)
            run_on: frozenset[str] | None = None
            if not skip_all:
                what = f"workflow {workflow.name!r}"
                when = sub.when(workflow.when, what)
                run_on = _statuses(when, MatchContext(event, row, variables), workflow.pos, what, problems)
                if run_on is not None and workflow.runs_on:
                    run_on = run_on | frozenset(workflow.runs_on)
            candidates.append(_Candidate(workflow, row, variables, sub, run_on))
    _skip_missing_dependencies(candidates)
    running = {c.spec.name for c in candidates if c.run_on is not None}
    plans = []
    for candidate in candidates:
        depends_on = tuple(
            dep.name for dep in candidate.spec.depends_on if not dep.optional or dep.name in running
        )
        if candidate.run_on is None:
            plans.append(_skipped_workflow(candidate, depends_on))
        else:
            plans.append(_workflow_plan(candidate, event, depends_on, candidate.run_on, problems))
    if any(problem.is_error for problem in problems):
        raise _error(problems)
    return Plan(workflows=tuple(plans))


def _error(problems: list[Problem]) -> PipelineError:
    errors = [problem for problem in problems if problem.is_error]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return PipelineError(f"{errors[0]}{more}" if errors else "the pipeline cannot be planned", problems)


def _statuses(
    when: tuple[WhenClause, ...], ctx: MatchContext, pos: Pos, what: str, problems: list[Problem]
) -> frozenset[str] | None:
    """``run_statuses``, with an ``evaluate`` that fails (after substitution) reported as a located error."""
    try:
        return run_statuses(when, ctx)
    except ExpressionError as exc:
        located = [c.evaluate_pos or c.pos for c in when if c.evaluate]
        at = next((where for where in located if where is not None), pos)
        message = f"{what}: 'evaluate' cannot be evaluated: {exc}"
        problems.append(Problem(at.file, at.line, at.column, Severity.ERROR, "expression", message))
        return None


def _skip_missing_dependencies(candidates: list[_Candidate]) -> None:
    """Skip workflows that require an absent or skipped workflow, until a fixed point (it always ends:
    each round either skips one more workflow or stops)."""
    changed = True
    while changed:
        changed = False
        running = {c.spec.name for c in candidates if c.run_on is not None}
        for candidate in candidates:
            if candidate.run_on is None:
                continue
            if any(not dep.optional and dep.name not in running for dep in candidate.spec.depends_on):
                candidate.run_on = None
                changed = True


def _workspace(workflow: WorkflowSpec) -> Workspace:
    base, path = workflow.workspace_base, workflow.workspace_path
    if workflow.dialect == "drone":
        return Workspace(base=base or "/drone", path=path if path is not None else ("" if base else "src"))
    return Workspace(base=base or "/woodpecker", path=path if path is not None else "src")


def _skipped_workflow(candidate: _Candidate, depends_on: tuple[str, ...]) -> WorkflowPlan:
    workflow = candidate.spec
    return WorkflowPlan(
        name=workflow.name,
        matrix=candidate.matrix,
        skipped=True,
        depends_on=depends_on,
        skipped_steps=tuple(step.name for step in [*workflow.steps, *workflow.services]),
        workspace=_workspace(workflow),
        environment=candidate.variables,
        labels=dict(workflow.labels),
        file=workflow.file,
    )


def _workflow_plan(
    candidate: _Candidate,
    event: Event,
    depends_on: tuple[str, ...],
    run_on: frozenset[str],
    problems: list[Problem],
) -> WorkflowPlan:
    workflow, sub = candidate.spec, candidate.sub
    ctx = MatchContext(event, candidate.matrix, candidate.variables)
    skipped: list[str] = []

    def statuses(step: StepSpec) -> frozenset[str] | None:
        what = f"step {step.name!r}"
        result = _statuses(sub.when(step.when, what), ctx, step.pos, what, problems)
        if result is None:
            skipped.append(step.name)
        return result

    stages: list[tuple[StepPlan, ...]] = []
    if not workflow.skip_clone and not workflow.clone:
        stages.append((default_clone(tag_event=event.kind is EventKind.TAG, file=workflow.file),))
    elif not workflow.skip_clone:
        for clone in workflow.clone or []:
            if (clone_on := statuses(clone)) is not None:
                stages.append((step_plan(clone, sub, kind=StepKind.CLONE, run_on=clone_on),))
    services = tuple(
        step_plan(service, sub, kind=StepKind.SERVICE, run_on=service_on)
        for service in workflow.services
        if (service_on := statuses(service)) is not None
    )
    running = [(step, on) for step in workflow.steps if (on := statuses(step)) is not None]
    deps = _step_dependencies(workflow, [step for step, _ in running], event, problems)
    plans = [
        step_plan(step, sub, run_on=on, depends_on=deps[index] or ())
        for index, (step, on) in enumerate(running)
    ]
    try:
        levels = stage([Node(step.name, deps[index], step.pos) for index, (step, _) in enumerate(running)])
    except PipelineError as exc:
        problems.extend(exc.problems)
        levels = []
    stages.extend(tuple(plans[index] for index in level) for level in levels)
    return WorkflowPlan(
        name=workflow.name,
        stages=tuple(stages),
        services=services,
        matrix=candidate.matrix,
        depends_on=depends_on,
        run_on=run_on,
        skipped_steps=tuple(skipped),
        workspace=_workspace(workflow),
        environment=candidate.variables,
        labels=dict(workflow.labels),
        file=workflow.file,
    )


def _step_dependencies(
    workflow: WorkflowSpec, running: list[StepSpec], event: Event, problems: list[Problem]
) -> list[tuple[str, ...] | None]:
    """Each running step's dependencies among the running steps (``None``: no ``depends_on`` key)."""
    running_names = {step.name for step in running}
    declared = {step.name for step in workflow.steps}
    drone = workflow.dialect == "drone"
    always_ready = ({"clone"} | {service.name for service in workflow.services}) - declared
    out: list[tuple[str, ...] | None] = []
    for step in running:
        if step.depends_on is None:
            out.append(None)
            continue
        kept: list[str] = []
        for dep in step.depends_on:
            if dep.name in running_names:
                if dep.name not in kept:
                    kept.append(dep.name)
            elif not (dep.optional or dep.name in always_ready or (dep.name in declared and drone)):
                problems.append(
                    _dependency_problem(step, dep.name, dep.pos, filtered=dep.name in declared, event=event)
                )
        out.append(tuple(kept))
    return out


def _dependency_problem(
    step: StepSpec, dep: str, pos: Pos | None, *, filtered: bool, event: Event
) -> Problem:
    where = pos or step.pos
    if filtered:
        message = (
            f"step {step.name!r} depends on {dep!r}, which its 'when' filters out for this {event.kind} event"
        )
        hint = (
            f"make it optional: depends_on: [{{name: {dep}, optional: true}}], or give both the same 'when'"
        )
    else:
        message = f"step {step.name!r} depends on {dep!r}, which is not a step of this workflow"
        hint = "fix the name, or mark the dependency 'optional: true'"
    return Problem(where.file, where.line, where.column, Severity.ERROR, "missing_dependency", message, hint)
