"""Pipeline layer: the glob patterns of ``when:`` filters, with the semantics of Go's bmatcuk/doublestar.

Woodpecker matches branches, refs, paths, repos, platforms, instances, cron names and matrix values with
``doublestar.Match``; wcmatch (``globmatch`` with ``GLOBSTAR | BRACE | DOTGLOB``) behaves the same way:

- ``*`` and ``?`` never cross a ``/``; ``**`` as a whole path segment crosses any number of them, and
  anywhere else it is a plain ``*`` (``refs/tags/v**`` matches ``refs/tags/v1.2`` but not ``refs/tags/v1/x``);
- ``[abc]``, ``[a-z]``, ``[!a]`` / ``[^a]`` classes, ``{a,b}`` alternatives, ``\\`` escapes;
- leading dots are not special, matching is case-sensitive and covers the whole value.

doublestar refuses a malformed pattern (an unclosed ``[`` or ``{``, an empty class, a trailing ``\\``) and
Woodpecker then treats it as not matching; ``glob_problem`` reports those for the linter and
``glob_match`` returns false for them, where wcmatch alone would read them literally.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from wcmatch import glob

FLAGS = glob.GLOBSTAR | glob.BRACE | glob.DOTGLOB | glob.FORCEUNIX
MAX_GLOB_CHARS = 1024


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid glob, or ``None`` when it is valid. Positions are 1-based."""
    if len(pattern) > MAX_GLOB_CHARS:
        return f"glob pattern longer than {MAX_GLOB_CHARS} characters"
    problem = _syntax_problem(pattern)
    if problem is None and _compiled(pattern) is None:
        problem = "glob pattern expands to too many alternatives (too many '{a,b}' groups)"
    return problem


def glob_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches ``pattern`` as a whole; an invalid pattern matches nothing."""
    matcher = _matcher(pattern)
    return matcher is not None and bool(matcher.match(value))


@lru_cache(maxsize=4096)
def _matcher(pattern: str) -> Any:
    if len(pattern) > MAX_GLOB_CHARS or _syntax_problem(pattern) is not None:
        return None
    return _compiled(pattern)


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> Any:
    try:
        return glob.compile(pattern, flags=FLAGS)
    except Exception:  # wcmatch's PatternLimitException is private; it is the only error for valid syntax
        return None


def _syntax_problem(pattern: str) -> str | None:
    braces: list[int] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                return f"glob pattern ends with a lone '\\' (character {i + 1})"
            i += 2
            continue
        if ch == "[":
            end, problem = _class_end(pattern, i)
            if problem is not None:
                return problem
            i = end
            continue
        if ch == "{":
            braces.append(i)
        elif ch == "}" and braces:
            braces.pop()
        i += 1
    if braces:
        return f"'{{' at character {braces[-1] + 1} of the glob pattern is not closed"
    return None


def _class_end(pattern: str, start: int) -> tuple[int, str | None]:
    """The index after the class opened at ``start``, or a problem when it is empty or not closed."""
    j = start + 1
    if j < len(pattern) and pattern[j] in "!^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        return j, f"empty character class '[]' at character {start + 1} of the glob pattern"
    while j < len(pattern):
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern[j] == "]":
            return j + 1, None
        j += 1
    return j, f"'[' at character {start + 1} of the glob pattern is not closed"
