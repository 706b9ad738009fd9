"""Pipeline layer: untrusted YAML to plain Python values that remember where each value was written.

Safety limits, all reported as located ``limit`` problems instead of exceptions:
- the file size (default 1 MiB) is checked before parsing;
- only the standard YAML tags are accepted (``!!python/object`` and friends are refused);
- aliases are expanded with a budget on the number of produced nodes and on nesting depth, so a
  "billion laughs" document fails fast instead of eating memory.

Scalars follow the YAML 1.2 core schema, as Woodpecker's Go parser does: only ``true``/``false`` are
booleans (``on``/``yes`` stay strings), quoted scalars are always strings, and every scalar keeps the text it
was written with (``raw``), so ``1.10`` can still be read as the string ``"1.10"``.

Merge keys ``<<`` work in mappings (a mapping or a list of mappings) and, as Woodpecker allows, inside lists:
an item ``- <<: *list`` splices the aliased list into the outer list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from shera.model.problems import Problem, Severity

MAX_BYTES = 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_ALLOWED_TAGS = {
    _STR,
    _SEQ,
    _MAP,
    _MERGE,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:set",
}
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)$|0o[0-7]+$|0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based position in a file."""

    file: str
    line: int
    column: int


class LDict(dict[str, Any]):
    """A mapping that knows where it, each key and each value was written, and each scalar's raw text."""

    pos: Pos
    key_pos: dict[str, Pos]
    value_pos: dict[str, Pos]
    raw: dict[str, str]

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.key_pos = {}
        self.value_pos = {}
        self.raw = {}

    def pos_of(self, key: str) -> Pos:
        return self.key_pos.get(key, self.pos)

    def value_pos_of(self, key: str) -> Pos:
        return self.value_pos.get(key, self.pos_of(key))


class LList(list[Any]):
    """A sequence that knows where it and each item were written, and each scalar item's raw text."""

    pos: Pos
    item_pos: list[Pos]
    raw: list[str | None]

    def __init__(self, pos: Pos) -> None:
        super().__init__()
        self.pos = pos
        self.item_pos = []
        self.raw = []

    def pos_at(self, index: int) -> Pos:
        return self.item_pos[index] if 0 <= index < len(self.item_pos) else self.pos


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document of a file: its root value (usually an ``LDict``) and where it starts."""

    value: Any
    pos: Pos


class _LimitExceeded(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


class _BadTag(Exception):
    def __init__(self, node: yaml.Node) -> None:
        super().__init__(node.tag)
        self.node = node


def load_documents(
    text: str | bytes, file: str, *, max_bytes: int = MAX_BYTES
) -> tuple[list[Document], list[Problem]]:
    """Parse every document of ``text``; return the documents and the problems (never raises for bad input).

    Empty documents are skipped. When any problem is found, no partial document is returned.
    """
    size = len(text.encode() if isinstance(text, str) else text)
    if size > max_bytes:
        return [], [_problem(file, 0, 0, "limit", f"file is {size} bytes; the limit is {max_bytes} bytes")]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [], [_problem(file, 0, 0, "yaml", f"file is not UTF-8 text: {exc.reason}")]
    try:
        nodes = list(_compose_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        return [], [_problem(file, line, column, "yaml", f"YAML syntax error: {message}")]
    except yaml.YAMLError as exc:
        return [], [_problem(file, 0, 0, "yaml", f"YAML error: {exc}")]
    builder = _Builder(file)
    documents: list[Document] = []
    try:
        for node in nodes:
            if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                continue
            documents.append(Document(builder.build(node, 0), builder.pos(node)))
    except _BadTag as exc:
        pos = builder.pos(exc.node)
        return [], [_problem(file, pos.line, pos.column, "yaml", f"YAML tag {exc.node.tag!r} is not allowed")]
    except _LimitExceeded as exc:
        pos = builder.pos(exc.node)
        return [], [_problem(file, pos.line, pos.column, "limit", str(exc))]
    if builder.problems:
        return [], builder.problems
    return documents, []


def _compose_all(text: str) -> Iterator[yaml.Node]:
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()


def _problem(file: str, line: int, column: int, kind: str, message: str) -> Problem:
    return Problem(file, line, column, Severity.ERROR, kind, message)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.problems: list[Problem] = []

    def pos(self, node: yaml.Node) -> Pos:
        return Pos(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def _tick(self, node: yaml.Node, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise _LimitExceeded(
                f"document expands to more than {MAX_NODES} values (alias bomb?); refused", node
            )
        if depth > MAX_DEPTH:
            raise _LimitExceeded(f"document nests deeper than {MAX_DEPTH} levels; refused", node)

    def build(self, node: yaml.Node, depth: int) -> Any:
        self._tick(node, depth)
        if node.tag not in _ALLOWED_TAGS:
            raise _BadTag(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            return self._sequence(node, depth)
        return self._scalar(node)

    def raw(self, node: yaml.Node) -> str | None:
        return str(node.value) if isinstance(node, yaml.ScalarNode) else None

    def _scalar(self, node: yaml.Node) -> Any:
        value = str(node.value)
        if node.tag == _STR or (isinstance(node, yaml.ScalarNode) and node.style in ("'", '"', "|", ">")):
            return value
        if node.tag == "tag:yaml.org,2002:null":
            return None
        if node.tag == "tag:yaml.org,2002:bool":
            lowered = value.lower()
            return lowered == "true" if lowered in ("true", "false") else value
        if node.tag == "tag:yaml.org,2002:int":
            return int(value, 0) if _INT.match(value) else value
        if node.tag == "tag:yaml.org,2002:float":
            if _FLOAT.match(value):
                return float(value)
            return value
        return value

    def _mapping(self, node: yaml.MappingNode, depth: int) -> LDict:
        out = LDict(self.pos(node))
        merged: list[LDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE or (
                key_node.value == "<<" and key_node.tag == _STR and not key_node.style
            ):
                merged.extend(self._merge_sources(value_node, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _LimitExceeded("mapping keys must be plain scalars", key_node)
            key = str(key_node.value)
            self._tick(key_node, depth + 1)
            if key in out.key_pos:
                first = out.key_pos[key]
                where = self.pos(key_node)
                self.problems.append(
                    _problem(
                        self.file,
                        where.line,
                        where.column,
                        "duplicate",
                        f"duplicate key '{key}' (first at line {first.line}); one of them would be lost",
                    )
                )
            out[key] = self.build(value_node, depth + 1)
            out.key_pos[key] = self.pos(key_node)
            out.value_pos[key] = self.pos(value_node)
            raw = self.raw(value_node)
            if raw is not None:
                out.raw[key] = raw
        for source in merged:
            for key, value in source.items():
                if key in out:
                    continue
                out[key] = value
                out.key_pos[key] = source.pos_of(key)
                out.value_pos[key] = source.value_pos_of(key)
                if key in source.raw:
                    out.raw[key] = source.raw[key]
        return out

    def _merge_sources(self, node: yaml.Node, depth: int) -> list[LDict]:
        value = self.build(node, depth + 1)
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, LDict) for source in sources):
            raise _LimitExceeded("'<<' in a mapping must merge a mapping or a list of mappings", node)
        return list(sources)

    def _sequence(self, node: yaml.SequenceNode, depth: int) -> LList:
        out = LList(self.pos(node))
        for item in node.value:
            splice = _list_merge_source(item)
            if splice is not None:
                spliced = self.build(splice, depth + 1)
                for index, value in enumerate(spliced):
                    out.append(value)
                    out.item_pos.append(spliced.pos_at(index))
                    out.raw.append(spliced.raw[index] if index < len(spliced.raw) else None)
                continue
            out.append(self.build(item, depth + 1))
            out.item_pos.append(self.pos(item))
            out.raw.append(self.raw(item))
        return out


def _list_merge_source(item: yaml.Node) -> yaml.Node | None:
    """The sequence to splice when ``item`` is ``<<: *a_list`` alone in a mapping, else ``None``."""
    if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
        return None
    key_node, value_node = item.value[0]
    if (
        key_node.tag == _MERGE
        and isinstance(value_node, yaml.SequenceNode)
        and all(not isinstance(v, yaml.MappingNode) for v in value_node.value)
    ):
        return value_node
    return None
