"""Pipeline layer: the ``when: evaluate`` expression language, the expr-lang subset Woodpecker users write.

``compile_expression`` tokenizes and parses (``expr_lexer``, ``expr_parser``); ``Expression.evaluate``
interprets the AST against string variables (the ``CI_*`` variables and the step environment).

Supported: string (``"a"``, ``'a'``, raw `````a`````), number, ``true``/``false``/``nil`` literals, ``[..]``
lists, identifiers, ``== != < <= > >=``, ``&& || !`` and ``and or not``, ``in`` / ``not in`` (list
membership; substring when the right side is a string), ``contains``, ``startsWith``, ``endsWith``,
``matches`` (Python ``re`` search, close to Go's RE2 for the patterns CI users write), parentheses.

Semantics, as in expr-lang unless said otherwise:

- an unknown variable is ``nil``; ``nil == nil`` is true;
- ``==`` compares numbers by value (``1 == 1.0``) and never equates values of different types;
- an operation on types it does not apply to (``"a" < 1``, ``nil contains "x"``, ``x matches y`` when
  ``y`` holds a refused regex) is false instead of expr-lang's runtime error;
- the result is read as a truth value: ``nil``, ``false``, ``0``, ``""`` and ``[]`` are false
  (expr-lang with ``AsBool`` rejects a non-boolean result instead).

Limits against hostile input: ``MAX_LENGTH`` characters, ``expr_parser.MAX_DEPTH`` nesting levels and the
regex checks of ``expr_regex.regex_problem``. Every compile problem is an ``ExpressionError`` with a column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache

from shera.pipeline.expr_lexer import ExpressionError
from shera.pipeline.expr_parser import (
    Array,
    Compare,
    Literal,
    Logical,
    Node,
    Unary,
    Value,
    Variable,
    parse,
)
from shera.pipeline.expr_regex import regex_problem

__all__ = ["MAX_LENGTH", "Expression", "ExpressionError", "compile_expression", "evaluate"]

MAX_LENGTH = 4096


class Expression:
    """A compiled expression; immutable and safe to share between threads."""

    __slots__ = ("_root", "text", "variables")

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self._root = root
        self.variables: frozenset[str] = frozenset(_variables(root))

    def evaluate(self, env: Mapping[str, str]) -> bool:
        """The truth value of the expression with ``env`` as variables; never raises."""
        return _truthy(_eval(self._root, env))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def compile_expression(text: str) -> Expression:
    """Parse ``text``; raises ``ExpressionError`` (with a 1-based column) when it is not valid."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    return _compile_cached(text)


@lru_cache(maxsize=512)
def _compile_cached(text: str) -> Expression:
    return Expression(text, parse(text))


def evaluate(text: str, env: Mapping[str, str]) -> bool:
    """Compile ``text`` (cached) and evaluate it against ``env``; raises ``ExpressionError`` on bad syntax."""
    return compile_expression(text).evaluate(env)


def _variables(node: Node) -> set[str]:
    match node:
        case Variable(name=name):
            return {name}
        case Array(items=items):
            return set().union(*(_variables(item) for item in items))
        case Unary(operand=operand):
            return _variables(operand)
        case Logical(operands=operands):
            return set().union(*(_variables(operand) for operand in operands))
        case Compare(left=left, right=right):
            return _variables(left) | _variables(right)
        case _:
            return set()


def _eval(node: Node, env: Mapping[str, str]) -> Value:
    match node:
        case Literal(value=value):
            return value
        case Variable(name=name):
            return env.get(name)
        case Array(items=items):
            return tuple(_eval(item, env) for item in items)
        case Unary(op="not", operand=operand):
            return not _truthy(_eval(operand, env))
        case Unary(op=op, operand=operand):
            number = _eval(operand, env)
            if not _is_number(number):
                return None
            return -number if op == "-" else number  # type: ignore[operator]
        case Logical(op="and", operands=operands):
            return all(_truthy(_eval(operand, env)) for operand in operands)
        case Logical(operands=operands):
            return any(_truthy(_eval(operand, env)) for operand in operands)
        case Compare(op="matches", left=left, right=right, pattern=pattern):
            return _matches(_eval(left, env), _eval(right, env) if pattern is None else pattern)
        case Compare(op=op, left=left, right=right):
            return _OPERATORS[op](_eval(left, env), _eval(right, env))
    raise AssertionError(f"unknown node {node!r}")  # pragma: no cover - the parser builds no other node


def _truthy(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return bool(value)


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Value, right: Value) -> bool:
    if _is_number(left) and _is_number(right):
        return left == right
    if isinstance(left, tuple) and isinstance(right, tuple):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and left == right


def _ordered(test: Callable[[int, int], bool]) -> Callable[[Value, Value], bool]:
    def compare(left: Value, right: Value) -> bool:
        if (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str)):
            return test((left > right) - (left < right), 0)  # type: ignore[operator]
        return False

    return compare


def _member(left: Value, right: Value) -> bool:
    if isinstance(right, tuple):
        return any(_equal(left, item) for item in right)
    if isinstance(right, str) and isinstance(left, str):
        return left in right
    return False


def _strings(test: Callable[[str, str], bool]) -> Callable[[Value, Value], bool]:
    def compare(left: Value, right: Value) -> bool:
        return isinstance(left, str) and isinstance(right, str) and test(left, right)

    return compare


def _matches(subject: Value, pattern: Value | re.Pattern[str]) -> bool:
    if isinstance(pattern, str):
        pattern = _runtime_pattern(pattern)
    if not isinstance(subject, str) or not isinstance(pattern, re.Pattern):
        return False
    return pattern.search(subject) is not None


@lru_cache(maxsize=128)
def _runtime_pattern(text: str) -> re.Pattern[str] | None:
    """A pattern that came from a variable: refused ones (see ``regex_problem``) match nothing."""
    return None if regex_problem(text) is not None else re.compile(text)


_OPERATORS: dict[str, Callable[[Value, Value], bool]] = {
    "==": _equal,
    "!=": lambda left, right: not _equal(left, right),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "in": _member,
    "contains": _strings(lambda a, b: b in a),
    "startsWith": _strings(str.startswith),
    "endsWith": _strings(str.endswith),
}
