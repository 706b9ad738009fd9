"""Tests for shera.pipeline.expr: the ``when: evaluate`` expression language."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import yaml

from shera.errors import PermanentError
from shera.pipeline.expr import MAX_LENGTH, ExpressionError, compile_expression, evaluate

ENV = {
    "CI_PIPELINE_EVENT": "push",
    "CI_REPO": "owner/repo",
    "CI_COMMIT_BRANCH": "feature/login",
    "CI_COMMIT_MESSAGE": "fix: the build [deploy]",
    "CI_COMMIT_AUTHOR": "woodpecker-ci",
    "CI_PIPELINE_NUMBER": "42",
    "EMPTY": "",
    "PATTERN": "^feature/",
    "BAD_PATTERN": "(",
    "EVIL_PATTERN": "(a+)+$",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # literals and truthiness of the result
        ("true", True),
        ("false", False),
        ("nil", False),
        ('"x"', True),
        ('""', False),
        ("1", True),
        ("0", False),
        ("[]", False),
        ("[1]", True),
        # variables: strings; unknown ones are nil
        ("CI_REPO", True),
        ("EMPTY", False),
        ("UNKNOWN", False),
        ("UNKNOWN == nil", True),
        ("CI_REPO == nil", False),
        ("EMPTY == nil", False),
        # string literal forms and escapes
        ("'owner/repo' == CI_REPO", True),
        ("`owner/repo` == CI_REPO", True),
        (r'"a\tb" == "a	b"', True),
        (r'"\u0041\x42\103" == "ABC"', True),
        (r'"say \"hi\"" contains "\""', True),
        (r"`a\tb` == 'a\\tb'", True),
        # equality
        ('CI_PIPELINE_EVENT == "push"', True),
        ('CI_PIPELINE_EVENT == "pull_request"', False),
        ('CI_PIPELINE_EVENT != "pull_request"', True),
        ('CI_PIPELINE_EVENT != "push"', False),
        ("CI_PIPELINE_NUMBER == 42", False),  # a string is never equal to a number
        ('CI_PIPELINE_NUMBER == "42"', True),
        ("1 == 1.0", True),
        ("true == 1", False),
        ("nil == false", False),
        ("[1, 'a'] == [1.0, \"a\"]", True),
        ("[1, 2] == [2, 1]", False),
        # numbers
        ("0x2A == 42", True),
        ("0o52 == 42", True),
        ("0b101010 == 42", True),
        ("1_000 == 1000", True),
        (".5 == 0.5", True),
        ("1e3 == 1000", True),
        ("-1 < 0", True),
        ("+1 == 1", True),
        ("-CI_REPO == nil", True),
        # ordering: numbers or strings, anything else is false
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2", True),
        ("2 >= 3", False),
        ('"a" < "b"', True),
        ('"b" >= "a"', True),
        ('"10" < 9', False),
        ("UNKNOWN < 1", False),
        ("UNKNOWN >= 1", False),
        # chained comparisons, as expr-lang: a < b < c is a < b && b < c
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("3 > 2 > 1", True),
        # logic, both spellings, short-circuit
        ("true && false", False),
        ("true and true", True),
        ("false || true", True),
        ("false or false", False),
        ("!false", True),
        ("not true", False),
        ("!!CI_REPO", True),
        ("!UNKNOWN", True),
        ('true || CI_REPO < 1 < "x"', True),
        # in / not in
        ('CI_PIPELINE_EVENT in ["push", "tag"]', True),
        ('CI_PIPELINE_EVENT in ["tag", "cron",]', False),
        ('CI_PIPELINE_EVENT not in ["tag", "cron"]', True),
        ('CI_PIPELINE_EVENT not in ["push"]', False),
        ("42 in [41, 42.0]", True),
        ('"repo" in CI_REPO', True),
        ('"nope" in CI_REPO', False),
        ('"x" in UNKNOWN', False),
        ("UNKNOWN in [nil]", True),
        # string operators
        ('CI_REPO contains "/re"', True),
        ('CI_REPO not contains "/re"', False),
        ('CI_COMMIT_BRANCH startsWith "feature/"', True),
        ('CI_COMMIT_BRANCH not startsWith "feature/"', False),
        ('CI_COMMIT_BRANCH endsWith "/login"', True),
        ('CI_COMMIT_BRANCH not endsWith "/login"', False),
        ('UNKNOWN contains ""', False),
        ("CI_REPO contains UNKNOWN", False),
        # matches: a search, as Go's regexp.MatchString
        ('CI_COMMIT_BRANCH matches "^feature/"', True),
        ('CI_COMMIT_BRANCH matches "login"', True),
        ('CI_COMMIT_BRANCH matches "^login"', False),
        (r'CI_COMMIT_MESSAGE matches "\\[deploy\\]"', True),
        ('CI_COMMIT_BRANCH not matches "^main$"', True),
        ("CI_COMMIT_BRANCH matches PATTERN", True),
        ("CI_COMMIT_BRANCH matches BAD_PATTERN", False),  # a bad pattern from a variable matches nothing
        ("UNKNOWN matches '.*'", False),
        # precedence: && binds tighter than ||
        ("true || false && false", True),
        ("(true || false) && false", False),
        ("false && true || true", True),
        ("false and (true or true)", False),
        # comparisons bind tighter than && and ||
        ('CI_PIPELINE_EVENT == "push" && CI_REPO == "owner/repo"', True),
        ('CI_PIPELINE_EVENT == "tag" || CI_REPO == "owner/repo"', True),
        # unary not binds tighter than comparisons, as in expr-lang: !a == b is (!a) == b
        ('!CI_REPO == "owner/repo"', False),
        ("!CI_REPO == false", True),
        ('!(CI_REPO == "x")', True),
        ('not CI_REPO in ["owner/repo"]', False),
        ("not UNKNOWN in [true]", True),
        # a negated operator applies to the whole chain before it
        ("1 < 2 not in [false]", True),
        # comments
        ('CI_REPO == "owner/repo" // trailing comment', True),
        ('/* leading */ CI_REPO == "owner/repo"', True),
        # multi-line
        ('CI_PIPELINE_EVENT == "push"\n  && CI_COMMIT_AUTHOR == "woodpecker-ci"', True),
    ],
)
def test_evaluates_like_expr_lang(text: str, expected: bool) -> None:
    assert compile_expression(text).evaluate(ENV) is expected


def test_evaluate_convenience_compiles_and_runs() -> None:
    assert evaluate('CI_REPO == "owner/repo"', ENV) is True
    assert evaluate('CI_REPO == "owner/repo"', {}) is False


def test_variables_lists_every_identifier_once() -> None:
    expression = compile_expression(
        'CI_A == "x" && (CI_B in [CI_C, "y"] || !CI_A) && CI_D matches "^a" && true && nil == CI_E'
    )
    assert expression.variables == frozenset({"CI_A", "CI_B", "CI_C", "CI_D", "CI_E"})
    assert compile_expression('"lit" == 1').variables == frozenset()


def test_compiled_expression_is_reusable_across_environments() -> None:
    expression = compile_expression('CI_PIPELINE_EVENT in ["push", "tag"]')
    assert [expression.evaluate({"CI_PIPELINE_EVENT": e}) for e in ("push", "tag", "cron")] == [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("", 1, "empty expression"),
        ("   // only a comment", 1, "empty expression"),
        ("(a == b", 8, "'(' at column 1 is not closed"),
        ("((a) == b", 10, "'(' at column 1 is not closed"),
        ("a == b)", 7, "')' without a matching '('"),
        (")", 1, "')' without a matching '('"),
        ('a == "b', 6, "unterminated string"),
        ("a == 'b", 6, "unterminated string"),
        ("a == `b", 6, "unterminated string"),
        ('a == "b\nc"', 6, "unterminated string"),
        ("a /* open", 3, "unterminated comment"),
        (r'a == "\q"', 7, "invalid escape"),
        ("a b", 3, "unexpected identifier 'b'"),
        ('a == "x" "y"', 10, "unexpected string 'y'"),
        ("a ==", 5, "unexpected end of expression"),
        ("a &&", 5, "unexpected end of expression"),
        ("a & b", 3, "unknown operator or character '&'"),
        ("a === b", 5, "unexpected operator '='"),
        ("a @ b", 3, "unknown operator or character '@'"),
        ("a + b", 3, "operator '+' is not supported"),
        ("a ?? b", 3, "operator '??' is not supported"),
        ("a | lower()", 3, "operator '|' is not supported"),
        ("a ? b : c", 3, "'?:' is not supported"),
        ("(a ? b : c)", 4, "'?:' is not supported"),
        ("lower(a) == b", 1, "function calls"),
        ("a.b == c", 2, "member and index access"),
        ("a[0] == c", 2, "member and index access"),
        ("{a: 1}", 1, "map literals"),
        ("[1, 2", 6, "expected ',' or ']'"),
        ("[1 2]", 4, "expected ',' or ']'"),
        ("a not b", 7, "'not' here must be followed by"),
        ("0x == 1", 1, "invalid number literal"),
        ("12abc == 1", 1, "invalid number literal"),
        ("1__0 == 1", 1, "invalid number literal"),
        ('a matches "("', 11, "invalid regular expression"),
        ('a matches "(a+)+$"', 11, "repeats a repeated group"),
        ('a matches "(x*)*"', 11, "repeats a repeated group"),
        ('a matches "(\\\\w+\\\\s?){2,}"', 11, "repeats a repeated group"),
        ("a matches 1", 11, "must be a string"),
        ('a matches "' + "(" * 40 + ")" * 40 + '"', 11, "nests groups more than"),
        ('a matches "x{99999999999999999999}"', 11, "invalid regular expression"),
        ("let x = 1; x", 1, "unexpected operator 'let'"),
    ],
)
def test_bad_expressions_are_located(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert fragment in caught.value.message
    assert caught.value.column == column
    assert f"column {column}" in str(caught.value)


def test_expression_error_is_a_permanent_error() -> None:
    assert issubclass(ExpressionError, PermanentError)


@pytest.mark.parametrize(
    "pattern", ["^v[0-9]+\\.[0-9]+$", "(feat|fix)(\\(.+\\))?: ", "(ab){2}", "(a+b)?c", "[(a+)+]"]
)
def test_ordinary_regexes_are_accepted(pattern: str) -> None:
    literal = pattern.replace("\\", "\\\\")
    compile_expression(f'CI_COMMIT_MESSAGE matches "{literal}"')


def test_regex_from_a_variable_with_nested_quantifiers_matches_nothing_quickly() -> None:
    env = {"SUBJECT": "a" * 40 + "!", "EVIL_PATTERN": "(a+)+$"}
    started = time.monotonic()
    assert evaluate("SUBJECT matches EVIL_PATTERN", env) is False
    assert time.monotonic() - started < 0.5


def test_expressions_over_the_length_limit_are_rejected_quickly() -> None:
    text = "a == " + '"' + "x" * (MAX_LENGTH * 100) + '"'
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="longer than"):
        compile_expression(text)
    assert time.monotonic() - started < 0.1


@pytest.mark.parametrize(
    "text",
    [
        "(" * 500 + "a" + ")" * 500,
        "!" * 1000 + "a",
        "[" * 300 + "]" * 300,
        "a" + " not in b" * 300,
        "-" * 1000 + "1",
    ],
    ids=["parentheses", "negations", "lists", "negated-chain", "unary-minus"],
)
def test_deep_nesting_is_an_expression_error_not_a_crash(text: str) -> None:
    with pytest.raises(ExpressionError, match="nested more than"):
        compile_expression(text)


def test_long_flat_chains_evaluate_without_deep_recursion() -> None:
    # Given the longest "&&" and "==" chains that fit in the length limit
    conjunction = "&&".join(["a"] * ((MAX_LENGTH + 2) // 3))
    comparison = "==".join(["a"] * ((MAX_LENGTH + 2) // 3))
    assert len(conjunction) <= MAX_LENGTH
    # Then they compile and evaluate (flattened, not one stack frame per operator)
    assert compile_expression(conjunction).evaluate({"a": "x"}) is True
    assert compile_expression(conjunction).evaluate({}) is False
    assert compile_expression(comparison).evaluate({"a": "x"}) is True


def _evaluate_strings(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(v) for k, v in node.items() if k == "evaluate"]
        return found + [s for v in node.values() for s in _evaluate_strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in _evaluate_strings(item)]
    return []


def test_upstream_fixture_expressions_compile(corpus: Path) -> None:
    # Given every "evaluate" of Woodpecker's own when-fixtures
    files = sorted((corpus / "pipelines" / "woodpecker-upstream-fixtures").glob("*when.yml"))
    assert files, "the upstream when-fixtures are missing from the corpus"
    texts = [t for f in files for t in _evaluate_strings(yaml.safe_load(f.read_text(encoding="utf-8")))]
    assert texts
    # Then each compiles and reads the variables Woodpecker provides
    for text in texts:
        assert compile_expression(text).variables <= {"CI_PIPELINE_EVENT", "CI_REPO", "CI_COMMIT_AUTHOR"}
    assert 'CI_PIPELINE_EVENT == "push" && CI_REPO == "owner/repo"' in texts
    assert 'CI_COMMIT_AUTHOR == "woodpecker-ci"' in texts


SOUP = ["a", '"x"', "1", "(", ")", "[", "]", ",", "==", "<", "&&", "||", "!", "not", "in", "contains"]
SOUP += ["matches", "?", ":", "+", ".", "{", "}", "'", "`", "/*", "//", "0x", "1e", "nil", "&", "|", "\\"]


def test_random_token_soup_compiles_or_raises_expression_error() -> None:
    # Given thousands of random token sequences (fixed seed)
    rng = random.Random(1)
    compiled = 0
    for _ in range(5000):
        text = " ".join(rng.choice(SOUP) for _ in range(rng.randint(0, 12)))
        # Then each either compiles and evaluates to a bool, or fails with a located ExpressionError
        try:
            result = compile_expression(text).evaluate({"a": "x"})
        except ExpressionError as exc:
            assert 1 <= exc.column <= len(text) + 1
        else:
            assert isinstance(result, bool)
            compiled += 1
    assert compiled > 0
