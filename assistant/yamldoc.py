"""YAML files that editors write, read with the line of every mapping, list and key.

Editors' mistakes are reported as ``file:line: message``; the loaders in :mod:`assistant.guided`
use the lines kept here to point at the node, option or key that is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from assistant.kb.articles import ArticleError, Problem


class LineMap(dict[str, Any]):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 1
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A list that knows its own line and the line of each item (1-based)."""

    line: int = 1
    item_lines: list[int]

    def line_at(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[str(key) if key is not None else ""] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path) -> Any:
    """Parse ``path``; a syntax error is raised as :class:`ArticleError` naming file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ArticleError([Problem(str(path), 1, f"cannot read: {exc.strerror}")]) from exc
    return parse_yaml(text, str(path))


def parse_yaml(text: str, shown: str) -> Any:
    """Parse ``text`` (of the file ``shown`` in messages), as :func:`load_yaml` does."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ArticleError([Problem(shown, line, f"invalid YAML: {exc.problem}")]) from exc


def line(value: Any, default: int = 1) -> int:
    return int(getattr(value, "line", default))


class Checker:
    """Collects problems for one file, with helpers for the usual checks on a :class:`LineMap`."""

    def __init__(self, path: Path | str):
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, at: int, message: str) -> None:
        self.problems.append(Problem(self.path, at, message))

    def mapping(self, value: Any, what: str, at: int) -> LineMap | None:
        if isinstance(value, LineMap):
            return value
        self.add(line(value, at), f"{what} must be a mapping")
        return None

    def keys(self, data: LineMap, what: str, required: set[str], optional: set[str]) -> None:
        for key in data:
            if key not in required | optional:
                self.add(data.line_of(key), f"unknown key '{key}' in {what}")
        for key in sorted(required - set(data)):
            self.add(data.line, f"{what} is missing '{key}'")

    def text(self, data: LineMap, key: str, what: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
            self.add(data.line_of(key), f"'{key}' in {what} must be a non-empty text")
            return None
        return str(value).strip()

    def strings(self, data: LineMap, key: str, what: str) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            self.add(data.line_of(key), f"'{key}' in {what} must be a list of texts")
            return []
        return [str(v).strip() for v in value if str(v).strip()]
