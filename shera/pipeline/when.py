"""Pipeline layer: does a ``when:`` filter let a workflow or step run for an event (Woodpecker's semantics)?

Mirrors ``pipeline/frontend/yaml/constraint`` of Woodpecker:

- the items of a ``when`` list are ORed; inside one item every set field must match (AND);
- an include/exclude list matches when no exclude pattern matches and, if includes are given, one of
  them does: exclude wins over include; all patterns are doublestar globs (``shera.pipeline.globs``);
- ``event`` is the event kind (``push``, ``pull_request``, ``tag``, ...); ``ref`` is the full git ref;
  ``repo`` is ``owner/name``; ``platform`` and ``instance`` come from the event;
- ``branch`` is ignored for tag events (a tag has no branch); for pull requests it is the target branch;
- ``cron`` only applies to cron events (the cron job's name);
- ``path`` only applies to push and pull request events (see ``path_matches``);
- ``matrix`` values are globs compared with the workflow's matrix row (a missing axis is ``""``);
- ``evaluate`` is an expression (``shera.pipeline.expr``) over ``MatchContext.env``;
- ``status`` never decides whether a clause matches; ``run_statuses`` reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shera.model.event import Event, EventKind
from shera.pipeline.expr import compile_expression
from shera.pipeline.globs import glob_match, glob_problem
from shera.pipeline.spec import Constraint, PathConstraint, WhenClause

__all__ = [
    "MatchContext",
    "clause_matches",
    "constraint_matches",
    "glob_problem",
    "path_matches",
    "run_statuses",
]

SUCCESS = "success"
_PATH_EVENTS = frozenset(
    {
        EventKind.PUSH,
        EventKind.PULL_REQUEST,
        EventKind.PULL_REQUEST_CLOSED,
        EventKind.PULL_REQUEST_METADATA,
    }
)


@dataclass(frozen=True)
class MatchContext:
    """What a ``when`` clause is matched against.

    ``matrix`` is the matrix row of the workflow being planned (empty without a matrix). ``env`` is every
    variable an ``evaluate`` expression sees: the ``CI_*`` variables, over the step environment when the
    caller merges one in (Woodpecker lets ``CI_*`` win).
    """

    event: Event
    matrix: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


def constraint_matches(c: Constraint, value: str) -> bool:
    """``value`` matches no exclude pattern and, when includes are given, at least one include."""
    if any(glob_match(pattern, value) for pattern in c.exclude):
        return False
    return not c.include or any(glob_match(pattern, value) for pattern in c.include)


def path_matches(p: PathConstraint, event: Event) -> bool:
    """The path filter alone, whatever the event kind (``clause_matches`` applies it to push and PRs only).

    True when the commit message contains ``ignore_message`` (case-insensitive); when the forge did not
    say which files changed (``changed_files is None``); ``on_empty`` when no file changed. Otherwise
    false when every changed file matches an exclude pattern, or when includes are given and no changed
    file matches one of them.
    """
    if p.ignore_message and p.ignore_message.lower() in event.message.lower():
        return True
    files = event.changed_files
    if files is None:
        return True
    if not files:
        return p.on_empty
    if p.exclude and all(any(glob_match(pattern, f) for pattern in p.exclude) for f in files):
        return False
    return not p.include or any(glob_match(pattern, f) for pattern in p.include for f in files)


def clause_matches(clause: WhenClause, ctx: MatchContext) -> bool:
    """Every field set in ``clause`` matches ``ctx`` (``status`` is ignored here).

    Raises ``ExpressionError`` when ``clause.evaluate`` does not compile (the linter reports it first).
    """
    event = ctx.event
    checks = (
        (clause.event, event.kind.value),
        (clause.repo, event.repo),
        (clause.ref, event.effective_ref),
        (clause.platform, event.platform),
        (clause.instance, event.instance),
        (clause.branch if event.kind is not EventKind.TAG else None, event.branch),
        (clause.cron if event.kind is EventKind.CRON else None, event.cron or ""),
    )
    if not all(c is None or constraint_matches(c, value) for c, value in checks):
        return False
    if not all(glob_match(pattern, ctx.matrix.get(axis, "")) for axis, pattern in clause.matrix.items()):
        return False
    if clause.path is not None and event.kind in _PATH_EVENTS and not path_matches(clause.path, event):
        return False
    return not clause.evaluate or compile_expression(clause.evaluate).evaluate(ctx.env)


def run_statuses(when: tuple[WhenClause, ...], ctx: MatchContext) -> frozenset[str] | None:
    """The pipeline statuses under which the filtered thing runs, or ``None`` when it does not run at all.

    ``None`` when no clause matches; otherwise the union of the ``status`` lists of the matching clauses,
    a matching clause without ``status`` counting as ``{"success"}``. An empty ``when`` runs on success.
    Note: Woodpecker drops ``success`` as soon as one matching clause lists statuses without it; the
    union is kept here because the items of ``when`` are alternatives.
    """
    if not when:
        return frozenset({SUCCESS})
    statuses: set[str] = set()
    matched = False
    for clause in when:
        if clause_matches(clause, ctx):
            matched = True
            statuses.update(clause.status or (SUCCESS,))
    return frozenset(statuses) if matched else None
