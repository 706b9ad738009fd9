"""Pipeline layer: reads one Woodpecker (or She-Ra, or Drone 0.8) workflow document into a ``WorkflowSpec``.

The keys, shapes and deprecations follow Woodpecker's schema and linter (``pipeline/frontend/yaml``):
a workflow needs a non-empty ``steps`` section; the old ``pipeline``, ``platform`` and ``branches`` keys are
read with a deprecation warning. Drone 0.8 files share this layout (``pipeline:`` map) but their unknown
step keys are plugin parameters; ``legacy=True`` reads them that way.
"""

from __future__ import annotations

from typing import Any

from shera.model.problems import Problem
from shera.pipeline import keys
from shera.pipeline.readctx import ReadContext, raw_of, scalar_text, type_name
from shera.pipeline.spec import Constraint, MatrixSpec, WhenClause, WorkflowSpec
from shera.pipeline.steps_reader import (
    CLONE,
    DRONE08,
    WOODPECKER,
    WOODPECKER_ONLY,
    StepDialect,
    read_depends_on,
    read_steps,
)
from shera.pipeline.when_reader import read_constraint, read_when
from shera.pipeline.yamlload import Document, LDict, LList, Pos


def read_workflow(
    doc: Document, *, file: str, name: str, shera_file: bool = True, legacy: bool = False
) -> tuple[WorkflowSpec | None, list[Problem]]:
    """The workflow of ``doc`` and the problems found; ``None`` when the document is not a mapping.

    ``shera_file=False`` (a ``.woodpecker*`` file) warns on She-Ra-only step keys (``uses``, ``with``,
    ``timeout``), which Woodpecker itself would reject.
    """
    ctx = ReadContext(file)
    root = doc.value
    if not isinstance(root, LDict):
        ctx.error(doc.pos, "type", f"a workflow file must hold a mapping, not {type_name(root)}")
        return None, ctx.problems
    if legacy:
        ctx.warn(
            root.pos,
            "deprecated",
            "Drone 0.8 format ('pipeline:' map); read with 0.8 semantics",
            "convert to Drone 1.x ('kind: pipeline') or Woodpecker 'steps:'",
        )
        ctx.keys(root, keys.DRONE08_WORKFLOW, where="a Drone 0.8 file")
    else:
        ctx.keys(root, keys.WORKFLOW, where="the workflow", deprecated=keys.WORKFLOW_DEPRECATED)
    dialect = DRONE08 if legacy else (WOODPECKER if shera_file else WOODPECKER_ONLY)
    workflow = WorkflowSpec(name=name, file=file, pos=root.pos, dialect="drone" if legacy else "woodpecker")
    _steps(workflow, root, ctx, dialect, legacy)
    workflow.when = read_when(root.get("when"), root.value_pos_of("when"), ctx)
    if "branches" in root:
        workflow.when = _with_branches(workflow.when, read_constraint(root, "branches", ctx))
    if "depends_on" in root:
        deps = read_depends_on(root["depends_on"], root.value_pos_of("depends_on"), ctx, "the workflow")
        workflow.depends_on = deps
    if "matrix" in root:
        workflow.matrix = _matrix(root["matrix"], root.value_pos_of("matrix"), ctx)
    workflow.labels = _labels(root.get("labels"), root.value_pos_of("labels"), ctx)
    if "platform" in root:
        platform = ctx.text(root["platform"], root.value_pos_of("platform"), "'platform'")
        if platform:
            workflow.labels.setdefault("platform", platform)
    _workspace(workflow, root, ctx)
    _clone(workflow, root, ctx, DRONE08 if legacy else CLONE)
    if "runs_on" in root:
        workflow.runs_on = ctx.strings(root["runs_on"], root.value_pos_of("runs_on"), "'runs_on'") or ()
    if "concurrency" in root:
        ctx.warn(root.pos_of("concurrency"), "ignored", "'concurrency' is not supported by She-Ra; ignored")
    return workflow, ctx.problems


def _steps(workflow: WorkflowSpec, root: LDict, ctx: ReadContext, dialect: StepDialect, legacy: bool) -> None:
    steps_key = _steps_key(root, ctx, legacy)
    if steps_key is None or not root.get(steps_key):
        where = root.pos_of(steps_key) if steps_key else root.pos
        ctx.error(where, "missing", "invalid or missing steps section", "add 'steps:' with at least one step")
    else:
        steps_pos = root.value_pos_of(steps_key)
        workflow.steps = read_steps(root[steps_key], steps_pos, ctx, dialect, section="steps")
    if "services" in root:
        services_pos = root.value_pos_of("services")
        workflow.services = read_steps(root["services"], services_pos, ctx, dialect, section="services")


def _steps_key(root: LDict, ctx: ReadContext, legacy: bool) -> str | None:
    if legacy:
        return "pipeline" if "pipeline" in root else None
    if "steps" in root and "pipeline" in root:
        ctx.error(
            root.pos_of("pipeline"),
            "conflict",
            "both 'steps' and the deprecated 'pipeline' are set",
            "move the steps of 'pipeline' under 'steps'",
        )
    return "steps" if "steps" in root else ("pipeline" if "pipeline" in root else None)


def _with_branches(when: tuple[WhenClause, ...], branches: Constraint) -> tuple[WhenClause, ...]:
    """The deprecated top-level ``branches`` ANDed into every workflow ``when`` clause."""
    if not when:
        return (WhenClause(branch=branches, pos=branches.pos),)
    out: list[WhenClause] = []
    for clause in when:
        fields: dict[str, Any] = {name: getattr(clause, name) for name in clause.__dataclass_fields__}
        if clause.branch is None:
            fields["branch"] = branches
        out.append(WhenClause(**fields))
    return tuple(out)


def _matrix(value: Any, pos: Pos, ctx: ReadContext) -> MatrixSpec | None:
    mapping = ctx.mapping(value, pos, "'matrix'")
    if mapping is None:
        return None
    axes: dict[str, tuple[str, ...]] = {}
    include: list[dict[str, str]] = []
    for axis, values in mapping.items():
        axis_pos = mapping.value_pos_of(axis)
        if axis == keys.MATRIX_INCLUDE:
            if not isinstance(values, LList):
                ctx.error(axis_pos, "type", "'matrix.include' must be a list of mappings")
                continue
            for index, row in enumerate(values):
                row_map = ctx.mapping(row, values.pos_at(index), "a 'matrix.include' row")
                if row_map is not None:
                    include.append(_row(row_map, ctx))
            continue
        if not isinstance(values, LList) or not values:
            ctx.error(axis_pos, "type", f"matrix axis '{axis}' must be a non-empty list of values")
            continue
        texts = [scalar_text(v, raw_of(values, i)) for i, v in enumerate(values)]
        if any(text is None for text in texts):
            ctx.error(axis_pos, "type", f"matrix axis '{axis}' values must be strings, numbers or booleans")
        axes[str(axis)] = tuple(text for text in texts if text is not None)
    if not axes and not include:
        ctx.error(pos, "missing", "'matrix' has no axis and no 'include' rows")
    return MatrixSpec(axes=axes, include=tuple(include))


def _row(row: LDict, ctx: ReadContext) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in row.items():
        text = scalar_text(value, raw_of(row, key))
        if text is None:
            ctx.error(row.value_pos_of(key), "type", f"matrix value '{key}' must be a single value")
            continue
        out[str(key)] = text
    return out


def _labels(value: Any, pos: Pos, ctx: ReadContext) -> dict[str, str]:
    mapping = ctx.mapping(value, pos, "'labels'")
    out: dict[str, str] = {}
    for key, item in (mapping or {}).items():
        text = scalar_text(item, raw_of(mapping, key)) if mapping is not None else None
        if text is None:
            ctx.error(pos, "type", f"label '{key}' must be a single value")
            continue
        out[str(key)] = text
    return out


def _workspace(workflow: WorkflowSpec, root: LDict, ctx: ReadContext) -> None:
    mapping = ctx.mapping(root.get("workspace"), root.value_pos_of("workspace"), "'workspace'")
    if mapping is None:
        return
    ctx.keys(mapping, keys.WORKSPACE, where="'workspace'")
    if "base" in mapping:
        workflow.workspace_base = ctx.text(mapping["base"], mapping.value_pos_of("base"), "'workspace.base'")
    if "path" in mapping:
        workflow.workspace_path = ctx.text(mapping["path"], mapping.value_pos_of("path"), "'workspace.path'")


def _clone(workflow: WorkflowSpec, root: LDict, ctx: ReadContext, dialect: StepDialect) -> None:
    workflow.skip_clone = ctx.boolean(root.get("skip_clone"), root.value_pos_of("skip_clone"), "'skip_clone'")
    if "clone" in root:
        clone = root["clone"]
        if isinstance(clone, LDict | LList):
            workflow.clone = read_steps(clone, root.value_pos_of("clone"), ctx, dialect, section="clone")
        else:
            ctx.error(root.value_pos_of("clone"), "type", "'clone' must be a mapping or a list of steps")
