"""The step-kind base and the registry: every built-in kind is found through its entry point."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shera.plugins import STEP_KINDS, Registry
from shera.steps.base import StepKindModel, with_schema

BUILT_INS = ["approve", "build", "debug", "deploy", "expose", "rollback", "volume"]


def test_every_built_in_kind_loads_through_the_registry_and_names_itself() -> None:
    registry = Registry.from_entry_points((STEP_KINDS,))
    assert registry.names(STEP_KINDS) == BUILT_INS
    for name in BUILT_INS:
        model = registry.get(STEP_KINDS, name)
        assert issubclass(model, StepKindModel)
        assert model.kind() == name


@pytest.mark.parametrize("name", BUILT_INS)
def test_unknown_keys_are_errors_located_at_the_key(name: str) -> None:
    model = Registry.from_entry_points((STEP_KINDS,)).get(STEP_KINDS, name)
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"no_such_key": 1})
    located = {tuple(err["loc"]): err["type"] for err in caught.value.errors()}
    assert located[("no_such_key",)] == "extra_forbidden"


def test_with_schema_shares_definitions_between_kinds() -> None:
    registry = Registry.from_entry_points((STEP_KINDS,))
    models = {name: registry.get(STEP_KINDS, name) for name in BUILT_INS}
    schema = with_schema(models)
    assert sorted(schema["kinds"]) == BUILT_INS
    for ref in schema["kinds"].values():
        assert ref["$ref"].removeprefix("#/$defs/") in schema["$defs"]
    assert with_schema(models) == schema


def test_union_member_labels_never_reach_the_error_location() -> None:
    from shera.steps.expose import ExposeWith

    # Given a tls mapping with a bad path, pydantic would report both the bool and the mapping branch
    with pytest.raises(ValidationError) as caught:
        ExposeWith.model_validate({"app": "web", "tls": {"cert": "relative.crt", "key": "/k"}})
    # Then only the branch that matched the value's shape is reported, at a path that exists in the YAML
    assert [(err["loc"], err["type"]) for err in caught.value.errors()] == [(("tls", "cert"), "path")]


def test_a_missing_key_is_named_in_the_location() -> None:
    from shera.steps.deploy import DeployWith

    with pytest.raises(ValidationError) as caught:
        DeployWith.model_validate({"volumes": [{"name": "data"}]})
    assert {err["loc"] for err in caught.value.errors()} == {("app",), ("volumes", 0, "mount")}
