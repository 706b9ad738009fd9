"""Pipeline layer: the recursive-descent parser of ``when: evaluate`` expressions, producing an immutable AST.

Precedence and associativity are expr-lang's (``parser/operator/operator.go``), lowest first::

    or ||                       10, left
    and &&                      15, left
    == != < <= > >= in matches  20, chained: ``a < b < c`` is ``a < b && b < c``
    contains startsWith endsWith    (``not in``, ``not contains`` ... negate the operator)
    unary not ! - +             50 / 90: ``!a == b`` is ``(!a) == b``, as in expr-lang

``and``/``or`` chains are flattened into one n-ary node, so evaluation depth follows the nesting the user
wrote, not the length of the expression. Limits: ``MAX_DEPTH`` levels of nesting. Regex literals of
``matches`` are checked (``expr_regex``) and compiled here, so a bad pattern is a compile-time
``ExpressionError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shera.pipeline.expr_lexer import ExpressionError, Kind, Token, tokenize
from shera.pipeline.expr_regex import regex_problem

MAX_DEPTH = 64

Value = None | bool | int | float | str | tuple["Value", ...]

_COMPARISONS = {
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "in": "in",
    "matches": "matches",
    "contains": "contains",
    "startsWith": "startsWith",
    "endsWith": "endsWith",
}
_NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
_LOGICAL = {"or": ("or", 10), "||": ("or", 10), "and": ("and", 15), "&&": ("and", 15)}
_COMPARISON_PRECEDENCE = 20
_UNARY = {"not": ("not", 50), "!": ("not", 50), "-": ("-", 90), "+": ("+", 90)}
_UNSUPPORTED_BINARY = frozenset({"+", "-", "*", "/", "%", "^", "**", "??", "..", "|"})


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value
    column: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    column: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Array:
    items: tuple[Node, ...]
    column: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "not", "-" or "+"
    operand: Node
    column: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "and" or "or"; short-circuits left to right
    operands: tuple[Node, ...]
    column: int
    depth: int = 1


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node
    column: int
    depth: int = 1
    pattern: re.Pattern[str] | None = None  # set when ``op == "matches"`` and the right side is a literal


Node = Literal | Variable | Array | Unary | Logical | Compare


def parse(text: str) -> Node:
    """The AST of ``text``; raises ``ExpressionError`` with the column of the first problem."""
    return _Parser(tokenize(text)).parse_all()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.nesting = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is not Kind.EOF:
            self.pos += 1
        return token

    def parse_all(self) -> Node:
        if self.current.kind is Kind.EOF:
            raise ExpressionError("empty expression", 1)
        node = self.expression(0)
        token = self.current
        if token.is_op("?"):
            raise ExpressionError("the conditional operator '?:' is not supported", token.column)
        if token.is_bracket(")"):
            raise ExpressionError("unbalanced parentheses: ')' without a matching '('", token.column)
        if token.kind is not Kind.EOF:
            raise ExpressionError(f"unexpected {token.describe()} after the expression", token.column)
        return node

    def expression(self, min_precedence: int) -> Node:
        left = self.primary()
        while True:
            token = self.current
            if token.kind is not Kind.OPERATOR:
                return left
            if token.text in _LOGICAL:
                op, precedence = _LOGICAL[token.text]
                if precedence < min_precedence:
                    return left
                self.advance()
                right = self.expression(precedence + 1)
                left = _logical(op, left, right, token.column)
            elif token.text in _COMPARISONS or token.text == "not":
                if min_precedence > _COMPARISON_PRECEDENCE:
                    return left
                left = self.comparison(left)
            elif token.text in _UNSUPPORTED_BINARY:
                raise ExpressionError(
                    f"operator {token.text!r} is not supported in 'evaluate' expressions", token.column
                )
            else:
                return left

    def comparison(self, left: Node) -> Node:
        """A chain ``a OP b OP c`` (all precedence 20); ``not`` before an operator negates it."""
        parts: list[Node] = []
        while self.current.is_op(*_COMPARISONS, "not"):
            negate = self.current.text == "not"
            if negate and parts:
                break  # as in expr-lang, a negated operator applies to the whole chain before it
            op_token = self.advance()
            if negate:
                op_token = self.advance()
                if not op_token.is_op(*_NEGATABLE):
                    raise ExpressionError(
                        f"'not' here must be followed by one of {', '.join(sorted(_NEGATABLE))}, "
                        f"found {op_token.describe()}",
                        op_token.column,
                    )
            right = self.expression(_COMPARISON_PRECEDENCE + 1)
            node: Node = _compare(_COMPARISONS[op_token.text], left, right, op_token.column)
            if negate:
                node = _checked(Unary("not", node, op_token.column, node.depth + 1))
            parts.append(node)
            left = right
            if negate:
                break  # and it ends the chain: "a not in b == c" is "(a not in b) == c"
        if len(parts) == 1:
            return parts[0]
        return _logical_of("and", tuple(parts), parts[0].column)

    def primary(self) -> Node:
        token = self.current
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise ExpressionError(f"expression nested more than {MAX_DEPTH} levels deep", token.column)
        try:
            node = self._primary(token)
        finally:
            self.nesting -= 1
        following = self.current
        if following.is_bracket("[") or following.is_op(".", "?."):
            raise ExpressionError("member and index access are not supported", following.column)
        return node

    def _primary(self, token: Token) -> Node:
        if token.is_op(*_UNARY):
            self.advance()
            op, precedence = _UNARY[token.text]
            operand = self.expression(precedence)
            return _checked(Unary(op, operand, token.column, operand.depth + 1))
        if token.is_bracket("("):
            return self.group(token)
        if token.is_bracket("["):
            return self.array(token)
        return self.atom(self.advance())

    def group(self, open_token: Token) -> Node:
        self.advance()
        node = self.expression(0)
        token = self.current
        if token.is_op("?"):
            raise ExpressionError("the conditional operator '?:' is not supported", token.column)
        if not token.is_bracket(")"):
            raise ExpressionError(
                f"unbalanced parentheses: '(' at column {open_token.column} is not closed "
                f"(found {token.describe()})",
                token.column,
            )
        self.advance()
        return node

    def atom(self, token: Token) -> Node:
        if token.kind is Kind.NUMBER:
            return Literal(token.number, token.column)
        if token.kind is Kind.STRING:
            return Literal(token.text, token.column)
        if token.kind is Kind.IDENT:
            if self.current.is_bracket("("):
                raise ExpressionError(f"function calls ({token.text}(...)) are not supported", token.column)
            literals: dict[str, Value] = {"true": True, "false": False, "nil": None}
            if token.text in literals:
                return Literal(literals[token.text], token.column)
            return Variable(token.text, token.column)
        if token.kind is Kind.EOF:
            raise ExpressionError("unexpected end of expression", token.column)
        if token.is_bracket(")"):
            raise ExpressionError("unbalanced parentheses: ')' without a matching '('", token.column)
        if token.is_bracket("{"):
            raise ExpressionError("map literals are not supported", token.column)
        raise ExpressionError(f"unexpected {token.describe()}", token.column)

    def array(self, open_token: Token) -> Node:
        self.advance()
        items: list[Node] = []
        while not self.current.is_bracket("]"):
            if items:
                if not self.current.is_op(","):
                    raise ExpressionError(
                        f"expected ',' or ']' in the list opened at column {open_token.column}, "
                        f"found {self.current.describe()}",
                        self.current.column,
                    )
                self.advance()
                if self.current.is_bracket("]"):
                    break
            items.append(self.expression(0))
        self.advance()
        depth = 1 + max((item.depth for item in items), default=0)
        return _checked(Array(tuple(items), open_token.column, depth))


def _checked(node: Node) -> Node:
    if node.depth > MAX_DEPTH:
        raise ExpressionError(f"expression nested more than {MAX_DEPTH} levels deep", node.column)
    return node


def _compare(op: str, left: Node, right: Node, column: int) -> Node:
    depth = 1 + max(left.depth, right.depth)
    pattern: re.Pattern[str] | None = None
    if op == "matches" and isinstance(right, Literal):
        if not isinstance(right.value, str):
            raise ExpressionError("the right side of 'matches' must be a string", right.column)
        problem = regex_problem(right.value)
        if problem is not None:
            raise ExpressionError(problem, right.column)
        pattern = re.compile(right.value)
    return _checked(Compare(op, left, right, column, depth, pattern))


def _logical(op: str, left: Node, right: Node, column: int) -> Node:
    if isinstance(left, Logical) and left.op == op:
        return _logical_of(op, (*left.operands, right), left.column)
    return _logical_of(op, (left, right), column)


def _logical_of(op: str, operands: tuple[Node, ...], column: int) -> Node:
    depth = 1 + max(operand.depth for operand in operands)
    return _checked(Logical(op, operands, column, depth))
