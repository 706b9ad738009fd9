"""Steps layer: the base of every step kind's ``with:`` model, and the JSON Schema of a set of kinds.

Contract for a step kind (built-in or plugin, registered under the ``shera.steps`` entry-point group):
- the entry point names a ``StepKindModel`` subclass; ``Model.model_validate(with_mapping)`` validates the
  ``with:`` mapping of a ``uses: <kind>`` step and raises ``pydantic.ValidationError`` listing every problem;
- each error's ``loc`` is the path of keys as written in the YAML below ``with:`` (field names, or aliases
  where a YAML key is not a Python identifier), so the linter can point at the line and column;
- validation is pure (no I/O, no clock); checks that need the workspace or a cluster happen at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.json_schema import models_json_schema
from pydantic_core import InitErrorDetails, PydanticCustomError

from shera.steps.fields import ScalarStr

DEFS_REF = "#/$defs/{model}"


class StepKindModel(BaseModel):
    """Base of a ``with:`` model: unknown keys are errors, values are not coerced across types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, validate_default=False)

    KIND: ClassVar[str] = ""

    @classmethod
    def kind(cls) -> str:
        """The ``uses:`` name of this kind (its entry-point name for the built-ins)."""
        return cls.KIND or cls.__name__.removesuffix("With").lower()

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate ``obj``; error ``loc``s are paths of keys and indexes that exist in ``obj``.

        Pydantic adds the name of a union member to ``loc`` (``("tls", "TlsFiles", "cert")``); those labels
        are dropped, and when one member got further into the value than another, only its errors are kept.
        """
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _yaml_located(exc, obj) from None


def _yaml_located(exc: ValidationError, data: Any) -> ValidationError:
    found: list[tuple[tuple[str | int, ...], bool, dict[str, Any]]] = []
    for error in exc.errors():
        loc, stripped = _existing_path(error["loc"], data, error["type"])
        found.append((loc, stripped, dict(error)))
    kept = [
        (loc, error)
        for loc, stripped, error in found
        if not stripped
        or not any(other[: len(loc)] == loc and len(other) > len(loc) for other, _, _ in found)
    ]
    details = [
        InitErrorDetails(type=PydanticCustomError(error["type"], error["msg"]), loc=loc, input=error["input"])
        for loc, error in kept
    ]
    return ValidationError.from_exception_data(exc.title, details)


def _existing_path(loc: tuple[str | int, ...], data: Any, kind: str) -> tuple[tuple[str | int, ...], bool]:
    """``loc`` without the parts that are not keys or indexes of ``data`` (union labels), and if any were.

    The last part of a ``missing`` error is kept: it names the key that should be there.
    """
    path: list[str | int] = []
    stripped = False
    node = data
    for index, part in enumerate(loc):
        in_map = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_map or in_list:
            node = node[part]
            path.append(part)
        elif kind == "missing" and index == len(loc) - 1:
            path.append(part)
        else:
            stripped = True
    return tuple(path), stripped


class FromSecret(BaseModel):
    """``{from_secret: NAME}``: the value is the project secret ``NAME``, masked in every log."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    from_secret: str = Field(min_length=1, description="Name of the project secret that supplies the value.")


EnvValue = ScalarStr | FromSecret


def with_schema(models: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """The JSON Schemas (draft 2020-12) of several ``with:`` models sharing one ``$defs``.

    Returns ``{"kinds": {kind: {"$ref": "#/$defs/..."}}, "$defs": {...}}``; embed ``$defs`` at the root of
    the document that uses the refs. Output is deterministic for a given set of models (kinds sorted).
    """
    names = sorted(models)
    refs, schema = models_json_schema([(models[name], "validation") for name in names], ref_template=DEFS_REF)
    kinds = {name: refs[(models[name], "validation")] for name in names}
    return {"kinds": kinds, "$defs": schema.get("$defs", {})}
