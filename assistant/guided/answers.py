"""What customers type instead of pressing a button: examples for the typed-answer matcher.

``data/typed_answers.yml`` lists, for every question of a troubleshooting tree and every need
question of the comparison, answers customers wrote for each option (keyed by the option's
``next``, its label where two options share a ``next``, or a need option's ``value``) and answers
that fit no option (``"null"``). The matcher compares a typed answer with these examples by
meaning (:func:`assistant.guided.matching.match_choice`). Loading checks every key against the
trees and the catalog and reports file and line.

Thresholds are chosen on a validation part of this file (:func:`split`), never on the
benchmark's held-out answers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.kb.articles import ArticleError, Problem
from assistant.yamldoc import LineMap, load_yaml

NONE = "null"  # the key of answers that fit no option
MAX_ANSWER = 200


@dataclass(frozen=True)
class TypedAnswers:
    trees: dict[tuple[str, str], dict[str, tuple[str, ...]]] = field(default_factory=dict)
    needs: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def __len__(self) -> int:
        groups = [*self.trees.values(), *self.needs.values()]
        return sum(len(texts) for group in groups for texts in group.values())


def load_typed_answers(path: Path, trees: Any = None, catalog: Any = None) -> TypedAnswers:
    """Read ``path`` (empty when missing); with ``trees``/``catalog`` given, every tree, node,
    option and need named must exist. Problems raise :class:`ArticleError` with file and line."""
    path = Path(path)
    if not path.is_file():
        return TypedAnswers()
    data = load_yaml(path)
    shown = str(path)
    problems: list[Problem] = []
    if not isinstance(data, LineMap):
        raise ArticleError([Problem(shown, 1, "must be a mapping with 'trees' and 'needs'")])
    for key in sorted(set(data) - {"trees", "needs"}):
        problems.append(Problem(shown, data.line_of(key), f"unknown key '{key}' (trees, needs)"))

    def texts(raw: Any, where: str, line: int) -> tuple[str, ...]:
        if not isinstance(raw, list):
            problems.append(Problem(shown, line, f"{where} must be a list of answers"))
            return ()
        kept: list[str] = []
        for i, text in enumerate(raw):
            at = raw.line_at(i) if hasattr(raw, "line_at") else line
            if not isinstance(text, str) or not text.strip():
                problems.append(Problem(shown, at, f"{where}: answer {i + 1} must be a text"))
            elif len(text) > MAX_ANSWER:
                problems.append(
                    Problem(shown, at, f"{where}: answer {i + 1} is over {MAX_ANSWER} characters")
                )
            else:
                kept.append(text.strip())
        return tuple(kept)

    def section(key: str) -> LineMap:
        raw = data.get(key)
        if raw is None:
            return LineMap()
        if not isinstance(raw, LineMap):
            problems.append(Problem(shown, data.line_of(key), f"'{key}' must be a mapping"))
            return LineMap()
        return raw

    def group(
        options: Any, where: str, line: int, keys: set[str] | None, named: str
    ) -> dict[str, tuple[str, ...]]:
        """One question's answers: option key -> texts, every key one of ``keys`` (or "null")."""
        if not isinstance(options, LineMap):
            problems.append(Problem(shown, line, f"'{where}' must map {named}s to answers"))
            return {}
        found: dict[str, tuple[str, ...]] = {}
        for key, raw in options.items():
            if keys is not None and key != NONE and key not in keys:
                problems.append(Problem(shown, options.line_of(key), f"'{where}' has no {named} '{key}'"))
                continue
            found[key] = texts(raw, f"{where}.{key}", options.line_of(key))
        return found

    tree_answers: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}
    for tree_id, nodes in section("trees").items():
        tree = trees.get(tree_id) if trees is not None else None
        if trees is not None and tree is None:
            problems.append(Problem(shown, data["trees"].line_of(tree_id), f"unknown tree '{tree_id}'"))
            continue
        if not isinstance(nodes, LineMap):
            problems.append(
                Problem(shown, data["trees"].line_of(tree_id), f"'{tree_id}' must map node ids to options")
            )
            continue
        for node_id, options in nodes.items():
            where = f"{tree_id}.{node_id}"
            node = tree.nodes.get(node_id) if tree is not None else None
            if tree is not None and (node is None or not node.options):
                problems.append(
                    Problem(shown, nodes.line_of(node_id), f"'{where}' is not a question of the tree")
                )
                continue
            keys = {k for o in node.options for k in (o.next, o.label)} if node is not None else None
            tree_answers[(tree_id, node_id)] = group(options, where, nodes.line_of(node_id), keys, "option")

    need_answers: dict[str, dict[str, tuple[str, ...]]] = {}
    for need_key, options in section("needs").items():
        need = catalog.needs.get(need_key) if catalog is not None else None
        if catalog is not None and need is None:
            problems.append(Problem(shown, data["needs"].line_of(need_key), f"unknown need '{need_key}'"))
            continue
        values = set(need.values) if need is not None else None
        need_answers[need_key] = group(options, need_key, data["needs"].line_of(need_key), values, "value")
    if problems:
        raise ArticleError(problems)
    return TypedAnswers(tree_answers, need_answers)


def _in_validation(text: str, every: int) -> bool:
    return zlib.crc32(text.lower().encode("utf-8")) % every == 0


def split(answers: TypedAnswers, every: int = 5) -> tuple[TypedAnswers, TypedAnswers]:
    """(train, validation): about one answer in ``every`` goes to validation, by a stable hash."""

    def part(
        groups: dict[Any, dict[str, tuple[str, ...]]], validation: bool
    ) -> dict[Any, dict[str, tuple[str, ...]]]:
        return {
            where: {
                key: tuple(t for t in texts if _in_validation(t, every) == validation)
                for key, texts in group.items()
            }
            for where, group in groups.items()
        }

    return (
        TypedAnswers(part(answers.trees, False), part(answers.needs, False)),
        TypedAnswers(part(answers.trees, True), part(answers.needs, True)),
    )
