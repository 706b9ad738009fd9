"""Adapters layer (gitops): sha and ref-name checks, pure functions, applied before git sees a value.

A value that passes can never be read by git as an option or a revision expression: shas are hex
only, and ref names follow ``git check-ref-format`` (no ``..``, ``@{``, ``~^:?*[\\``, spaces, control
characters, leading ``-``, ``.`` components or ``.lock`` endings).
"""

from __future__ import annotations

import re
import unicodedata

from shera.gitops.errors import BadRef

SHA = re.compile(r"^[0-9a-f]{7,64}$")
"""A full or abbreviated object name (SHA-1 or SHA-256), lower-case hex."""

MAX_REF_LENGTH = 1024
_FORBIDDEN = frozenset(" ~^:?*[\\")


def is_zero_sha(value: str) -> bool:
    """True for the all-zeros sha forges send for "no commit" (a new branch's ``before``)."""
    return bool(value) and set(value) == {"0"}


def check_sha(value: str) -> str:
    """``value`` when it is 7-64 lower-case hex characters, else ``BadRef``."""
    if not SHA.match(value):
        raise BadRef(f"not a commit sha: {value[:80]!r} (expected 7 to 64 hex digits)")
    return value


def ref_problem(name: str) -> str | None:
    """Why ``name`` is not a valid branch or tag name (``check-ref-format`` rules), or ``None``."""
    if not name:
        return "it is empty"
    if len(name) > MAX_REF_LENGTH:
        return f"it is longer than {MAX_REF_LENGTH} characters"
    if name.startswith("-"):
        return "it starts with '-'"
    if name == "@":
        return "'@' alone is not a ref name"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        return "it contains control characters"
    bad = sorted(_FORBIDDEN.intersection(name))
    if bad:
        return f"it contains {''.join(bad)!r}"
    if ".." in name or "@{" in name:
        return "it contains '..' or '@{'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "it has an empty path component"
    if name.endswith("."):
        return "it ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return "a component starts with '.'"
        if part.endswith(".lock"):
            return "a component ends with '.lock'"
    return None


def check_ref_name(name: str) -> str:
    """``name`` when it is a valid branch or tag name (short or ``refs/...``), else ``BadRef``."""
    problem = ref_problem(name)
    if problem is not None:
        raise BadRef(f"not a valid ref name: {name[:80]!r}: {problem}")
    return name
