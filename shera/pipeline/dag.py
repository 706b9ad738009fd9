"""Pipeline layer (planner part): steps to stages, the way Woodpecker's DAG compiler orders them.

Without any ``depends_on`` among the steps that run, each step is its own stage, in file order. As soon as one
of them has a ``depends_on`` (even ``[]``), stages are topological levels: a stage holds every step whose
dependencies all sit in earlier stages, in file order; steps without ``depends_on`` land in the first stage.
A cycle is a ``PipelineError`` naming the steps on it; the loop always ends, whatever the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shera.errors import PipelineError
from shera.model.problems import Problem, Severity
from shera.pipeline.yamlload import Pos


@dataclass(frozen=True, slots=True)
class Node:
    """One step to place: its name, the names it waits for (all present), and where it was written."""

    name: str
    depends_on: tuple[str, ...] | None
    pos: Pos | None = None


def stage(nodes: Sequence[Node]) -> list[list[int]]:
    """Stages as indices into ``nodes`` (given in file order; every dependency names a node).

    A dependency on a name that several nodes share (steps whose ``when`` filters exclude each other) waits
    for all of them.
    """
    if not any(node.depends_on is not None for node in nodes):
        return [[index] for index in range(len(nodes))]
    unplaced = Counter(node.name for node in nodes)
    remaining = list(range(len(nodes)))
    stages: list[list[int]] = []
    while remaining:
        ready = [i for i in remaining if not any(unplaced[dep] for dep in nodes[i].depends_on or ())]
        if not ready:
            raise _cycle_error([nodes[i] for i in remaining])
        stages.append(ready)
        unplaced.subtract(nodes[i].name for i in ready)
        placed = set(ready)
        remaining = [i for i in remaining if i not in placed]
    return stages


def _cycle_error(stuck: Sequence[Node]) -> PipelineError:
    """Name one cycle among ``stuck`` (every stuck node waits, directly or not, on a cycle)."""
    waits: Mapping[str, tuple[str, ...]] = {node.name: node.depends_on or () for node in stuck}
    by_name = {node.name: node for node in stuck}
    path: list[str] = []
    current: str | None = stuck[0].name
    while current is not None and current not in path:
        path.append(current)
        current = next((dep for dep in waits[current] if dep in waits), None)
    cycle = [*path[path.index(current) :], current] if current is not None else path
    first = by_name[cycle[0]]
    pos = first.pos
    problem = Problem(
        pos.file if pos else "",
        pos.line if pos else 0,
        pos.column if pos else 0,
        Severity.ERROR,
        "cycle",
        "steps depend on each other in a cycle: " + " -> ".join(cycle),
        "remove one of these depends_on entries",
    )
    return PipelineError(str(problem), [problem])
