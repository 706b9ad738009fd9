"""Model layer: a located problem found in a pipeline file (lint output is a list of these)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in one file.

    ``line`` and ``column`` are 1-based; 0 means "the whole file". ``kind`` is a stable machine-readable
    category (``yaml``, ``unknown_key``, ``type``, ``duplicate``, ``cycle``, ``missing_dependency``,
    ``expression``, ``glob``, ``limit``, ``deprecated`` ...); ``hint`` is a suggestion such as the closest
    valid key.
    """

    file: str
    line: int
    column: int
    severity: Severity
    kind: str
    message: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": str(self.severity),
            "kind": self.kind,
            "message": self.message,
        }
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        text = f"{where}: {self.severity}: {self.message} [{self.kind}]"
        return f"{text} (hint: {self.hint})" if self.hint else text
