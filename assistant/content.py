"""Editor settings from ``data/assistant.yml``: names, top tasks, knowledge-base thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from assistant.kb.articles import ArticleError, Problem, line_of
from assistant.kb.search import DecisionSettings


@dataclass(frozen=True)
class BotContent:
    assistant_name: str = "Kes"
    bank_name: str = "Kestrel Bank"
    top_tasks: tuple[str, ...] = ()
    kb: DecisionSettings = field(default_factory=DecisionSettings)


def load_content(path: Path) -> BotContent:
    """Read and validate the file; problems are raised as :class:`ArticleError` with file and line."""
    path = Path(path)
    if not path.is_file():
        return BotContent()
    shown = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ArticleError([Problem(shown, line, f"invalid YAML: {exc.problem}")]) from exc
    if not isinstance(data, dict):
        raise ArticleError([Problem(shown, 1, "must be a mapping of settings")])
    problems: list[Problem] = []
    known = {"assistant_name", "bank_name", "top_tasks", "kb"}
    for key in sorted(set(data) - known):
        problems.append(Problem(shown, line_of(path, key), f"unknown setting '{key}'"))
    tasks = data.get("top_tasks") or []
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        problems.append(
            Problem(shown, line_of(path, "top_tasks"), "'top_tasks' must be a list of article ids")
        )
        tasks = []
    kb_raw: Any = data.get("kb") or {}
    kb = DecisionSettings()
    if not isinstance(kb_raw, dict):
        problems.append(Problem(shown, line_of(path, "kb"), "'kb' must be a mapping"))
    else:
        allowed = {f.name for f in fields(DecisionSettings)}
        unknown = sorted(set(kb_raw) - allowed)
        for key in unknown:
            problems.append(Problem(shown, line_of(path, key), f"unknown kb setting '{key}'"))
        try:
            kb = DecisionSettings(**{k: v for k, v in kb_raw.items() if k in allowed})
        except (TypeError, ValueError) as exc:
            problems.append(Problem(shown, line_of(path, "kb"), f"kb settings: {exc}"))
    if problems:
        raise ArticleError(problems)
    return BotContent(
        assistant_name=str(data.get("assistant_name") or BotContent.assistant_name),
        bank_name=str(data.get("bank_name") or BotContent.bank_name),
        top_tasks=tuple(tasks),
        kb=kb,
    )


def check_top_tasks(content: BotContent, article_ids: set[str], path: Path) -> list[Problem]:
    return [
        Problem(str(path), line_of(path, task), f"top task {task!r} is not an article id")
        for task in content.top_tasks
        if task not in article_ids
    ]
