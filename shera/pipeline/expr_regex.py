"""Pipeline layer: the safety check on ``matches`` regexes of ``when: evaluate`` expressions.

Python's ``re`` backtracks, unlike Go's RE2 that Woodpecker uses, so a pattern such as ``(a+)+$`` can take
exponential time on a hostile commit message. Patterns are refused when they are too long, nest groups too
deeply (``re``'s own parser recurses), or repeat a group that itself contains an unbounded repetition.
This catches the classic catastrophic shapes; overlapping alternations like ``(a|a)*`` are not detected.
"""

from __future__ import annotations

import re

MAX_REGEX_CHARS = 1024
MAX_REGEX_GROUP_DEPTH = 32
_REPEAT = re.compile(r"\{(\d*),(\d*)\}|\{(\d+)\}")


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` is refused as a ``matches`` regex, or ``None`` when it is usable.

    Besides syntax, patterns longer than ``MAX_REGEX_CHARS``, groups nested deeper than
    ``MAX_REGEX_GROUP_DEPTH`` and nested unbounded quantifiers such as ``(a+)+`` (catastrophic
    backtracking in Python's ``re``) are refused.
    """
    if len(pattern) > MAX_REGEX_CHARS:
        return f"regular expression longer than {MAX_REGEX_CHARS} characters"
    problem = _structure_problem(pattern)
    if problem is not None:
        return problem
    try:
        re.compile(pattern)
    except (re.error, OverflowError) as exc:
        return f"invalid regular expression: {getattr(exc, 'msg', exc)}"
    return None


def _structure_problem(pattern: str) -> str | None:
    # One flag per open group: does it contain an unbounded quantifier?
    stack: list[bool] = [False]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _skip_class(pattern, i)
            continue
        if ch == "(":
            stack.append(False)
            if len(stack) > MAX_REGEX_GROUP_DEPTH:
                return f"regular expression nests groups more than {MAX_REGEX_GROUP_DEPTH} levels deep"
            i += 2 if pattern.startswith("(?", i) else 1
            continue
        if ch == ")" and len(stack) > 1:
            inner = stack.pop()
            width = _unbounded_quantifier_at(pattern, i + 1)
            if inner and width:
                return (
                    "regular expression repeats a repeated group (like '(a+)+'), "
                    "which can take forever to match"
                )
            stack[-1] = stack[-1] or inner or bool(width)
            i += 1 + width
            continue
        width = _unbounded_quantifier_at(pattern, i)
        if width:
            stack[-1] = True
            i += width
            continue
        i += 1
    return None


def _skip_class(pattern: str, i: int) -> int:
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _unbounded_quantifier_at(pattern: str, i: int) -> int:
    """Width of a quantifier at ``i`` that repeats more than a handful of times, else 0."""
    if i < len(pattern) and pattern[i] in "*+":
        return 1
    found = _REPEAT.match(pattern, i)
    if found is None:
        return 0
    upper = found.group(2) if found.group(3) is None else found.group(3)
    return len(found.group(0)) if not upper or int(upper) > 8 else 0
