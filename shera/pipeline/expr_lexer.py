"""Pipeline layer: the tokenizer of the ``when: evaluate`` expression language (an expr-lang subset).

It also defines ``ExpressionError`` (re-exported by ``shera.pipeline.expr``), because every stage of the
evaluator raises it. Columns are 1-based character positions in the expression text.

Tokens follow expr-lang's lexer: numbers (``42``, ``0x2A``, ``0o52``, ``0b101``, ``1_000``, ``0.5``,
``.5``, ``1e3``), strings in double or single quotes with Go escapes, raw strings in backticks,
identifiers (``CI_REPO``, ``$env``), word operators (``and or not in contains startsWith endsWith matches``)
and symbol operators. Comments (``//`` and ``/* */``) are skipped. Operators outside the supported subset
(``+``, ``?:``, ``|`` ...) are still tokens, so the parser can name them in its message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from shera.errors import PermanentError

WORD_OPERATORS = frozenset({"and", "or", "not", "in", "contains", "startsWith", "endsWith", "matches", "let"})
# Longest first: the lexer takes the first that matches.
SYMBOL_OPERATORS = (
    "**", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..", "::",
    "<", ">", "!", "+", "-", "*", "/", "%", "^", "?", ":", ".", ",", "|", ";", "=", "#",
)  # fmt: skip
BRACKETS = frozenset("()[]{}")

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_NUMBER_BASES = {"x": (16, "0123456789abcdefABCDEF_"), "o": (8, "01234567_"), "b": (2, "01_")}


class ExpressionError(PermanentError):
    """An expression cannot be compiled; ``column`` is the 1-based position of the problem in its text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (at column {column})")
        self.message = message
        self.column = column


class Kind(StrEnum):
    NUMBER = "number"
    STRING = "string"
    IDENT = "identifier"
    OPERATOR = "operator"
    BRACKET = "bracket"
    EOF = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text`` is the decoded string for strings, the source text otherwise."""

    kind: Kind
    text: str
    column: int
    number: int | float | None = None

    def is_op(self, *texts: str) -> bool:
        return self.kind is Kind.OPERATOR and (not texts or self.text in texts)

    def is_bracket(self, text: str) -> bool:
        return self.kind is Kind.BRACKET and self.text == text

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of expression"
        if self.kind is Kind.STRING:
            return f"string {self.text!r}"
        return f"{self.kind} {self.text!r}"


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, ending with one ``EOF`` token; raises ``ExpressionError`` on bad input."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ExpressionError("unterminated comment", i + 1)
            i = end + 2
        elif ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            token, i = _number(text, i)
            tokens.append(token)
        elif ch in "\"'`":
            token, i = _string(text, i)
            tokens.append(token)
        elif ch.isalpha() or ch in "_$":
            start = i
            i += 1
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            word = text[start:i]
            kind = Kind.OPERATOR if word in WORD_OPERATORS else Kind.IDENT
            tokens.append(Token(kind, word, start + 1))
        elif ch in BRACKETS:
            tokens.append(Token(Kind.BRACKET, ch, i + 1))
            i += 1
        else:
            op = next((op for op in SYMBOL_OPERATORS if text.startswith(op, i)), None)
            if op is None:
                hint = " (use '&&' or 'and')" if ch == "&" else ""
                raise ExpressionError(f"unknown operator or character {ch!r}{hint}", i + 1)
            tokens.append(Token(Kind.OPERATOR, op, i + 1))
            i += len(op)
    tokens.append(Token(Kind.EOF, "", n + 1))
    return tokens


def _number(text: str, start: int) -> tuple[Token, int]:
    n = len(text)
    i = start
    if text[i] == "0" and i + 1 < n and text[i + 1].lower() in _NUMBER_BASES:
        base, digits = _NUMBER_BASES[text[i + 1].lower()]
        i += 2
        while i < n and text[i] in digits:
            i += 1
        return _make_number(text, start, i, lambda raw: int(raw[2:], base)), i
    while i < n and (text[i].isdigit() or text[i] == "_"):
        i += 1
    is_float = False
    # A dot starts a fraction only when a digit follows ("1..3" is a range, "x.y" a member).
    if i + 1 < n and text[i] == "." and text[i + 1].isdigit():
        is_float = True
        i += 1
        while i < n and (text[i].isdigit() or text[i] == "_"):
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            is_float = True
            i = j
            while i < n and text[i].isdigit():
                i += 1
    convert = float if is_float else int
    return _make_number(text, start, i, convert), i


def _make_number(text: str, start: int, end: int, convert: Callable[[str], int | float]) -> Token:
    raw = text[start:end]
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        raise ExpressionError(f"invalid number literal {text[start : end + 1]!r}", start + 1)
    if "__" in raw or raw.endswith("_"):
        raise ExpressionError(f"invalid number literal {raw!r}", start + 1)
    try:
        value = convert(raw.replace("_", ""))
    except (ValueError, OverflowError):
        raise ExpressionError(f"invalid number literal {raw!r}", start + 1) from None
    return Token(Kind.NUMBER, raw, start + 1, value)


def _string(text: str, start: int) -> tuple[Token, int]:
    quote = text[start]
    n = len(text)
    i = start + 1
    if quote == "`":
        end = text.find("`", i)
        if end < 0:
            raise ExpressionError("unterminated string", start + 1)
        return Token(Kind.STRING, text[i:end], start + 1), end + 1
    out: list[str] = []
    while i < n:
        ch = text[i]
        if ch == quote:
            return Token(Kind.STRING, "".join(out), start + 1), i + 1
        if ch == "\n":
            break
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        decoded, i = _escape(text, i)
        out.append(decoded)
    raise ExpressionError("unterminated string", start + 1)


def _escape(text: str, i: int) -> tuple[str, int]:
    """Decode the escape sequence starting at the backslash ``text[i]``."""
    code = text[i + 1] if i + 1 < len(text) else ""
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code], i + 2
    if code in _HEX_ESCAPES:
        width = _HEX_ESCAPES[code]
        digits = text[i + 2 : i + 2 + width]
        if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
            value = int(digits, 16)
            if value <= 0x10FFFF:
                return chr(value), i + 2 + width
    elif code in "01234567" and code:
        digits = text[i + 1 : i + 4]
        if len(digits) == 3 and all(c in "01234567" for c in digits):
            return chr(int(digits, 8)), i + 4
    raise ExpressionError(f"invalid escape sequence {text[i : i + 2]!r} in string", i + 1)
