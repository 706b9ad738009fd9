"""Test helpers for the step kinds: validate a ``with:`` mapping and read back the errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError


def errors_of(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str, str]]:
    """``(loc, type, message)`` of every error ``data`` raises; fails the test when it validates."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(tuple(err["loc"]), err["type"], err["msg"]) for err in caught.value.errors()]


def one_error(model: type[BaseModel], data: dict[str, Any]) -> tuple[tuple[str | int, ...], str, str]:
    errors = errors_of(model, data)
    assert len(errors) == 1, errors
    return errors[0]
