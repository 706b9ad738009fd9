"""``uses: rollback``: the with: model."""

from __future__ import annotations

from shera.steps.rollback import RollbackWith
from tests.steps.support import one_error


def test_without_to_the_previous_release_is_meant() -> None:
    assert RollbackWith.model_validate({"app": "web"}).to is None
    assert RollbackWith.model_validate({"app": "web", "environment": "staging", "to": 3}).to == 3


def test_revision_must_be_a_positive_integer() -> None:
    assert one_error(RollbackWith, {"app": "web", "to": 0})[:2] == (("to",), "greater_than_equal")
    assert one_error(RollbackWith, {"app": "web", "to": "v2"})[:2] == (("to",), "int_type")
