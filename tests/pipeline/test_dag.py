"""Tests for shera.pipeline.dag: stages from depends_on, the way Woodpecker's DAG compiler orders them."""

from __future__ import annotations

import pytest

from shera.errors import PipelineError
from shera.pipeline.dag import Node, stage


def labels(nodes: list[Node]) -> list[list[str]]:
    return [[nodes[i].name for i in level] for level in stage(nodes)]


def test_no_depends_on_means_one_step_per_stage() -> None:
    assert labels([Node("a", None), Node("b", None)]) == [["a"], ["b"]]


def test_levels_keep_file_order_inside_a_stage() -> None:
    nodes = [Node("z", ("a",)), Node("a", None), Node("m", ()), Node("y", ("z", "m"))]
    assert labels(nodes) == [["a", "m"], ["z"], ["y"]]


def test_a_shared_name_waits_for_every_step_carrying_it() -> None:
    nodes = [Node("build", None), Node("build", ("prep",)), Node("prep", ()), Node("ship", ("build",))]
    assert labels(nodes) == [["build", "prep"], ["build"], ["ship"]]


@pytest.mark.timeout(5)
def test_cycles_are_named_not_looped_on() -> None:
    with pytest.raises(PipelineError) as info:
        stage([Node("a", ()), Node("b", ("c",)), Node("c", ("d",)), Node("d", ("b",)), Node("e", ("d",))])
    assert "b -> c -> d -> b" in str(info.value)
    assert info.value.problems[0].kind == "cycle"


@pytest.mark.timeout(5)
def test_a_self_dependency_is_a_cycle() -> None:
    with pytest.raises(PipelineError, match="a -> a"):
        stage([Node("a", ("a",))])
