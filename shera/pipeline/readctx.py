"""Pipeline layer: the problem collector and value coercions shared by the dialect readers.

Readers never raise for bad input: they record a located ``Problem`` in a ``ReadContext`` and carry on with
the best value they can (usually "absent"), so one run reports every problem of a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shera.model.problems import Problem, Severity
from shera.pipeline.keys import check_keys
from shera.pipeline.yamlload import LDict, LList, Pos

TEXT_TYPES = (str, int, float, bool)


@dataclass
class ReadContext:
    """Where problems of one file go while it is read."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    def add(
        self, pos: Pos | None, severity: Severity, kind: str, message: str, hint: str | None = None
    ) -> None:
        line, column = (pos.line, pos.column) if pos else (0, 0)
        self.problems.append(
            Problem(pos.file if pos else self.file, line, column, severity, kind, message, hint)
        )

    def error(self, pos: Pos | None, kind: str, message: str, hint: str | None = None) -> None:
        self.add(pos, Severity.ERROR, kind, message, hint)

    def warn(self, pos: Pos | None, kind: str, message: str, hint: str | None = None) -> None:
        self.add(pos, Severity.WARNING, kind, message, hint)

    def keys(self, mapping: LDict, valid: frozenset[str], *, where: str, **kwargs: Any) -> None:
        self.problems.extend(check_keys(mapping, valid, where=where, **kwargs))

    # --- coercions ----------------------------------------------------------------------------------------

    def mapping(self, value: Any, pos: Pos, what: str) -> LDict | None:
        """``value`` when it is a mapping; else a ``type`` error and ``None`` (``None`` input is silent)."""
        if isinstance(value, LDict):
            return value
        if value is not None:
            self.error(pos, "type", f"{what} must be a mapping, not {type_name(value)}")
        return None

    def boolean(self, value: Any, pos: Pos, what: str, default: bool = False) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(pos, "type", f"{what} must be true or false, not {value!r}")
        return default

    def text(self, value: Any, pos: Pos, what: str, raw: str | None = None) -> str | None:
        """A scalar as the text the user wrote (``1.10`` stays ``"1.10"``); an error for lists and maps."""
        out = scalar_text(value, raw)
        if out is None and value is not None:
            self.error(pos, "type", f"{what} must be a string, not {type_name(value)}")
        return out

    def strings(self, value: Any, pos: Pos, what: str) -> tuple[str, ...] | None:
        """A string or a list of strings (Woodpecker's ``StringOrSlice``); ``None`` when absent or invalid."""
        if value is None:
            return None
        if isinstance(value, LList):
            out: list[str] = []
            for index, item in enumerate(value):
                text = scalar_text(item, value.raw[index] if index < len(value.raw) else None)
                if text is None:
                    hint = (
                        "quote the item: a ': ' inside makes it a mapping" if isinstance(item, dict) else None
                    )
                    self.error(
                        value.pos_at(index),
                        "type",
                        f"{what} items must be strings, not {type_name(item)}",
                        hint,
                    )
                    continue
                out.append(text)
            return tuple(out)
        text = scalar_text(value, None)
        if text is None:
            self.error(pos, "type", f"{what} must be a string or a list of strings, not {type_name(value)}")
            return None
        return (text,)


def raw_of(container: LDict | LList, key: str | int) -> str | None:
    """The raw scalar text stored for ``key`` (a mapping key or a list index)."""
    if isinstance(container, LDict):
        return container.raw.get(str(key))
    index = int(key)
    return container.raw[index] if 0 <= index < len(container.raw) else None


def scalar_text(value: Any, raw: str | None) -> str | None:
    """Text of a scalar: strings as is, other scalars as written (falling back to YAML spelling)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return raw if raw is not None else ("true" if value else "false")
    if isinstance(value, int | float):
        return raw if raw is not None else str(value)
    return None


def type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else type(value).__name__
