"""Pipeline layer: Woodpecker's ``${VAR}`` pre-processing of pipeline strings (pure text work, no eval).

The rules are those of drone/envsubst, which Woodpecker runs over every pipeline file:

- ``${NAME}`` becomes the variable's value; an unknown name becomes the empty string.
- ``$NAME`` without braces is left as written (the step's shell expands it at run time).
- ``$$`` is a literal ``$``: ``$${HOME}`` reaches the shell as ``${HOME}``.
- bash-like operations: ``${#X}`` (length), ``${X^}`` ``${X^^}`` ``${X,}`` ``${X,,}`` (case), ``${X:pos}``
  ``${X:pos:len}`` (substring), ``${X=d}`` ``${X:=d}`` ``${X:-d}`` ``${X:+d}`` ``${X:?d}`` (all mean "the
  value, or ``d`` when empty", as in envsubst, not bash), ``${X#glob}`` ``${X##glob}`` ``${X%glob}``
  ``${X%%glob}`` (trim), ``${X/old/new}`` ``${X//old/new}`` ``${X/#old/new}`` ``${X/%old/new}`` (replace).
  Arguments may nest ``${...}``.
- anything else after ``${`` (``${{ x }}``, ``${!x}``, ``${a[0]}``, a missing ``}``) is a bad substitution:
  ``SubstitutionError``, which the planner reports as a located problem.

One deliberate difference: Woodpecker substitutes the raw file text before parsing the YAML, She-Ra the parsed
string values. So a value containing a newline is inserted as is (Woodpecker quotes it to keep the YAML valid,
which parses back to the same string), and envsubst's unescaping of ``\\\\`` and ``\\/`` outside ``${...}`` is
not applied (on parsed values it would corrupt shell commands such as ``sed 's/a\\/b//'``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any


class SubstitutionError(ValueError):
    """A ``${...}`` expression Woodpecker refuses ("bad substitution"); the message quotes the text."""


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with every ``${...}`` replaced and ``$$`` unescaped; raises ``SubstitutionError``."""
    if "$" not in text:
        return text
    return _Parser(text, variables).top()


def substitute_value(value: Any, variables: Mapping[str, str]) -> Any:
    """``substitute`` applied to every string in ``value`` (mapping values and list items; keys untouched).

    Mappings come back as plain ``dict`` and sequences as ``list``; other scalars are returned unchanged.
    """
    if isinstance(value, str):
        return substitute(value, variables)
    if isinstance(value, Mapping):
        return {key: substitute_value(item, variables) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [substitute_value(item, variables) for item in value]
    return value


class _Parser:
    """Recursive descent over one string; ``i`` is the read position."""

    def __init__(self, text: str, variables: Mapping[str, str]) -> None:
        self.s = text
        self.i = 0
        self.vars = variables

    def bad(self, why: str) -> SubstitutionError:
        return SubstitutionError(f"bad substitution in {self.s!r}: {why}")

    def peek(self, offset: int = 0) -> str:
        index = self.i + offset
        return self.s[index] if index < len(self.s) else ""

    def top(self) -> str:
        out: list[str] = []
        while self.i < len(self.s):
            dollar = self.s.find("$", self.i)
            if dollar < 0:
                out.append(self.s[self.i :])
                break
            out.append(self.s[self.i : dollar])
            self.i = dollar
            follower = self.peek(1)
            if follower == "$":
                out.append("$")
                self.i += 2
            elif follower == "{":
                self.i += 2
                out.append(self.expression())
            else:
                out.append("$")
                self.i += 1
        return "".join(out)

    def expect_close(self) -> None:
        if self.peek() != "}":
            raise self.bad("expected '}'" if self.peek() else "'${' is never closed")
        self.i += 1

    def name(self) -> str:
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] in "_-"):
            self.i += 1
        if self.i == start:
            found = repr(self.peek()) if self.peek() else "the end of the text"
            raise self.bad(f"expected a variable name after '${{', found {found}")
        return self.s[start : self.i]

    def operator(self, chars: str, longest: int = 2) -> str:
        start = self.i
        while self.i - start < longest and self.peek() and self.peek() in chars:
            self.i += 1
        return self.s[start : self.i]

    def param(self, stops: str, *, escapes: bool = False) -> str:
        """Text up to (not including) one of ``stops``; nested ``${...}`` and ``$$`` are expanded."""
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise self.bad("'${' is never closed")
            if char in stops:
                return "".join(out)
            follower = self.peek(1)
            if char == "$" and follower == "{":
                self.i += 2
                out.append(self.expression())
            elif char == "$" and follower == "$":
                out.append("$")
                self.i += 2
            elif escapes and char == "\\" and follower in ("/", "\\"):
                out.append(follower)
                self.i += 2
            else:
                out.append(char)
                self.i += 1

    def expression(self) -> str:
        """Everything after ``${`` up to and including the matching ``}``, evaluated."""
        if self.peek() == "#":
            self.i += 1
            value = self.vars.get(self.name(), "")
            self.expect_close()
            return str(len(value.encode()))
        value = self.vars.get(self.name(), "")
        char = self.peek()
        if char == "}":
            self.i += 1
            return value
        if char == ":" and self.peek(1) in ("=", "-", "?", "+"):
            self.i += 2
            return self.default(value)
        if char == ":":
            self.i += 1
            return self.substring(value)
        if char == "=":
            self.i += 1
            return self.default(value)
        return self.operation(value, char)

    def operation(self, value: str, char: str) -> str:
        """Case changes, replacement and trimming: what may follow the name besides ``}``, ``:`` and ``=``."""
        if char in (",", "^"):
            op = self.operator(",^")
            self.expect_close()
            casing = _CASING.get(op)
            return casing(value) if casing is not None else value
        if char == "/":
            return self.replace(value)
        if char in ("#", "%"):
            op = self.operator(char)
            pattern = self.param("}")
            self.expect_close()
            return _trim(value, pattern, prefix=char == "#", longest=len(op) == 2)
        raise self.bad(f"unexpected {char!r} after the variable name" if char else "'${' is never closed")

    def default(self, value: str) -> str:
        fallback = self.param("}")
        self.expect_close()
        return value or fallback

    def substring(self, value: str) -> str:
        start = self.param(":}")
        length: str | None = None
        if self.peek() == ":":
            self.i += 1
            length = self.param("}")
        self.expect_close()
        return _substring(value, start, length)

    def replace(self, value: str) -> str:
        self.i += 1  # the first '/'
        mode = "/"
        if self.peek() in ("/", "#", "%"):
            mode += self.peek()
            self.i += 1
        old = self.param("/}", escapes=True)
        if self.peek() != "/":
            raise self.bad("expected '/' between the pattern and the replacement")
        self.i += 1
        new = None if self.peek() == "}" else self.param("}", escapes=True)
        self.expect_close()
        return _replace(value, mode, old, new)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


_CASING: dict[str, Callable[[str], str]] = {
    "^": _upper_first,
    "^^": str.upper,
    ",": _lower_first,
    ",,": str.lower,
}
_INT = re.compile(r"[+-]?[0-9]+")


def _substring(value: str, start_text: str, length_text: str | None) -> str:
    """``${X:pos[:len]}``; an unparsable number leaves the value whole, as envsubst does."""
    if not _INT.fullmatch(start_text):
        return value
    start = int(start_text)
    if start < 0:
        start = max(len(value) + start, 0)
    if length_text is None:
        return value[start:]
    if not _INT.fullmatch(length_text):
        return value
    length = int(length_text)
    if start + length >= len(value):
        return value[start:]
    return value[start : start + max(length, 0)]


def _replace(value: str, mode: str, old: str, new: str | None) -> str:
    if mode == "/#":
        return new + value[len(old) :] if new is not None and value.startswith(old) else value
    if mode == "/%":
        return value[: len(value) - len(old)] + new if new is not None and value.endswith(old) else value
    count = -1 if mode == "//" else 1
    return value.replace(old, new or "", count)


def _glob(pattern: str) -> re.Pattern[str] | None:
    """envsubst's shell pattern as a regular expression (``*`` and ``?`` also match ``/``, unlike Go's
    ``path.Match`` it derives from); ``None`` when the pattern is malformed."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        elif char == "[":
            end = pattern.find("]", index + 2)
            if end < 0:
                return None
            body = pattern[index + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None


def _trim(value: str, pattern: str, *, prefix: bool, longest: bool) -> str:
    """``#``/``##``/``%``/``%%``: suffixes are trimmed by reversing text and pattern, exactly as envsubst."""
    subject, glob_text = (value, pattern) if prefix else (value[::-1], pattern[::-1])
    regex = _glob(glob_text)
    if regex is None:
        return value
    match = ""
    for end in range(len(subject), 0, -1):
        if regex.fullmatch(subject[:end]):
            match = subject[:end]
            if longest:
                break
    trimmed = subject[len(match) :]
    return trimmed if prefix else trimmed[::-1]
