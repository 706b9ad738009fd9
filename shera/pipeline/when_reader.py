"""Pipeline layer: reads ``when:`` (Woodpecker, step and workflow level) and Drone ``when:``/``trigger:``.

Accepted shapes, as Woodpecker's schema: a mapping or a list of mappings (ORed); a constraint is a string, a
list of strings or ``{include, exclude}`` (each a string or a list); ``path`` also takes ``ignore_message``
and ``on_empty``. Drone event names are translated to Woodpecker's (``promote`` -> ``deployment``,
``custom`` -> ``manual``); a deploy ``target`` (Drone) or ``environment`` (old Woodpecker) becomes an
``evaluate`` expression over ``CI_PIPELINE_DEPLOY_TARGET``. Glob and expression syntax is checked by the
linter, not here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from shera.model.problems import Problem, Severity
from shera.pipeline import keys
from shera.pipeline.readctx import ReadContext, raw_of, scalar_text
from shera.pipeline.spec import Constraint, PathConstraint, WhenClause
from shera.pipeline.yamlload import LDict, LList, Pos

_GLOB_KEYS = ("branch", "ref", "cron", "repo", "instance", "platform")


def read_when(value: Any, pos: Pos, ctx: ReadContext, *, drone: bool = False) -> tuple[WhenClause, ...]:
    """Every clause of a ``when`` value; invalid parts are reported and left out."""
    if value is None:
        return ()
    items: list[tuple[Any, Pos]]
    if isinstance(value, LList):
        items = [(item, value.pos_at(index)) for index, item in enumerate(value)]
    else:
        items = [(value, pos)]
    clauses: list[WhenClause] = []
    for item, item_pos in items:
        mapping = ctx.mapping(item, item_pos, "a 'when' condition")
        if mapping is not None:
            clauses.append(_clause(mapping, ctx, drone=drone))
    return tuple(clauses)


def _clause(mapping: LDict, ctx: ReadContext, *, drone: bool) -> WhenClause:
    if drone:
        ctx.keys(mapping, keys.DRONE_WHEN, where="a Drone 'when'/'trigger' condition")
    else:
        found = keys.check_keys(
            mapping,
            keys.WHEN,
            where="a 'when' condition",
            deprecated=keys.WHEN_DEPRECATED,
            ignored=keys.WHEN_IGNORED,
        )
        # Woodpecker ignores unknown condition keys (its e2e scenario 11 relies on it): warn, do not refuse.
        ctx.problems.extend(_ignored_condition(problem) for problem in found)
    fields: dict[str, Any] = {}
    for key in _GLOB_KEYS:
        if key in mapping:
            fields[key] = read_constraint(mapping, key, ctx)
    if "tag" in mapping and "ref" not in mapping and not drone:
        fields["ref"] = _tag_as_ref(read_constraint(mapping, "tag", ctx))
    if "event" in mapping:
        fields["event"] = _events(mapping, ctx, drone=drone)
    if "status" in mapping:
        fields["status"] = _statuses(mapping, ctx)
    path_key = "paths" if drone else "path"
    if path_key in mapping:
        fields["path"] = _path(mapping, path_key, ctx)
    if "matrix" in mapping and not drone:
        fields["matrix"] = _matrix(mapping, ctx)
    fields.update(_evaluate(mapping, ctx, drone=drone))
    if drone and "action" in mapping:
        ctx.warn(mapping.pos_of("action"), "ignored", "Drone 'action' conditions are ignored by She-Ra")
    return WhenClause(pos=mapping.pos, **fields)


def _evaluate(mapping: LDict, ctx: ReadContext, *, drone: bool) -> dict[str, Any]:
    """``evaluate`` as written, or one made from a deploy target (Drone ``target``, old ``environment``)."""
    if "evaluate" in mapping and not drone:
        pos = mapping.value_pos_of("evaluate")
        return {"evaluate": ctx.text(mapping["evaluate"], pos, "'evaluate'"), "evaluate_pos": pos}
    target_key = "target" if drone else "environment"
    if target_key in mapping:
        expression = _target_expression(read_constraint(mapping, target_key, ctx))
        if expression:
            return {"evaluate": expression, "evaluate_pos": mapping.value_pos_of(target_key)}
    return {}


def _tag_as_ref(tags: Constraint) -> Constraint:
    """The deprecated ``tag: v*`` as ``ref: refs/tags/v*``."""
    include = tuple(f"refs/tags/{tag}" for tag in tags.include)
    return Constraint(include, tuple(f"refs/tags/{tag}" for tag in tags.exclude), tags.pos)


def read_constraint(mapping: LDict, key: str, ctx: ReadContext) -> Constraint:
    """``key`` of ``mapping`` as an include/exclude constraint."""
    value, pos = mapping[key], mapping.value_pos_of(key)
    if isinstance(value, LDict):
        ctx.keys(value, keys.CONSTRAINT, where=f"'{key}'")
        include = ctx.strings(value.get("include"), value.value_pos_of("include"), f"'{key}.include'")
        exclude = ctx.strings(value.get("exclude"), value.value_pos_of("exclude"), f"'{key}.exclude'")
        return Constraint(include or (), exclude or (), pos)
    include = ctx.strings(value, pos, f"'{key}'")
    return Constraint(include or (), (), pos)


def _events(mapping: LDict, ctx: ReadContext, *, drone: bool) -> Constraint:
    constraint = read_constraint(mapping, "event", ctx)
    valid = set(keys.DRONE_EVENTS) if drone else set(keys.EVENTS)

    def translate(names: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for name in names:
            if name not in valid:
                hint = keys.closest(name, valid)
                ctx.error(
                    constraint.pos,
                    "value",
                    f"unknown event '{name}'; known: {', '.join(sorted(valid))}",
                    f"did you mean '{hint}'?" if hint else None,
                )
                continue
            translated = keys.DRONE_EVENTS[name] if drone else name
            if translated not in out:
                out.append(translated)
        return tuple(out)

    return Constraint(translate(constraint.include), translate(constraint.exclude), constraint.pos)


def _statuses(mapping: LDict, ctx: ReadContext) -> tuple[str, ...]:
    pos = mapping.value_pos_of("status")
    names = ctx.strings(mapping["status"], pos, "'status'") or ()
    out: list[str] = []
    for name in names:
        if name in keys.STATUSES:
            out.append(name)
        elif name == "changed":
            ctx.warn(pos, "ignored", "status 'changed' (Drone 0.8) is not supported; ignored")
        else:
            ctx.error(pos, "value", f"unknown status '{name}'; use success or failure")
    return tuple(out)


def _path(mapping: LDict, key: str, ctx: ReadContext) -> PathConstraint:
    value, pos = mapping[key], mapping.value_pos_of(key)
    if not isinstance(value, LDict):
        return PathConstraint(include=ctx.strings(value, pos, f"'{key}'") or (), pos=pos)
    ctx.keys(value, keys.PATH, where=f"'{key}'")
    message = None
    if "ignore_message" in value:
        message = ctx.text(value["ignore_message"], value.value_pos_of("ignore_message"), "'ignore_message'")
    return PathConstraint(
        include=ctx.strings(value.get("include"), value.value_pos_of("include"), f"'{key}.include'") or (),
        exclude=ctx.strings(value.get("exclude"), value.value_pos_of("exclude"), f"'{key}.exclude'") or (),
        ignore_message=message,
        on_empty=ctx.boolean(value.get("on_empty"), value.value_pos_of("on_empty"), "'on_empty'", True),
        pos=pos,
    )


def _matrix(mapping: LDict, ctx: ReadContext) -> dict[str, str]:
    value = ctx.mapping(mapping["matrix"], mapping.value_pos_of("matrix"), "'when.matrix'")
    out: dict[str, str] = {}
    for axis, item in (value or {}).items():
        text = scalar_text(item, raw_of(value, axis)) if value is not None else None
        if text is None:
            ctx.error(mapping.value_pos_of("matrix"), "type", f"'when.matrix.{axis}' must be a single value")
            continue
        out[str(axis)] = text
    return out


def _target_expression(target: Constraint) -> str | None:
    """An ``evaluate`` expression equivalent to a deploy-target constraint (exact names only)."""
    variable = "CI_PIPELINE_DEPLOY_TARGET"
    parts: list[str] = []
    if target.include:
        parts.append("(" + " || ".join(f"{variable} == {json.dumps(name)}" for name in target.include) + ")")
    if target.exclude:
        parts.append("!(" + " || ".join(f"{variable} == {json.dumps(name)}" for name in target.exclude) + ")")
    return " && ".join(parts) or None


def _ignored_condition(problem: Problem) -> Problem:
    if problem.kind != "unknown_key" or not problem.is_error:
        return problem
    return replace(
        problem,
        severity=Severity.WARNING,
        message=f"{problem.message}; the condition ignores it",
    )
