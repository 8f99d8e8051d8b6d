"""The words customers read on the messaging apps, from ``data/channels.yml`` (editors own it).

Every text the channels need must be there; a missing or misspelt key, a text that is not a
string, or a placeholder the channel does not fill is reported as ``file:line: message``.
Runs in Rasa's process too (Python 3.10): PyYAML only.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FILE = "channels.yml"
# key -> the placeholders the channel fills in (a text may use fewer, never others)
TEXTS: dict[str, frozenset[str]] = {
    "agent_says": frozenset({"name", "text"}),
    "agent_joined": frozenset({"name"}),
    "queued": frozenset({"position", "wait"}),
    "no_agent": frozenset(),
    "ticket": frozenset(),
    "article_link": frozenset({"title", "url"}),
    "option": frozenset({"number", "title"}),
    "options_hint": frozenset(),
    "choose": frozenset(),
    "carousel_item": frozenset({"number", "title", "subtitle"}),
    "input": frozenset({"label"}),
    "image": frozenset({"url"}),
    "unsupported": frozenset(),
    "linked": frozenset({"name"}),
    "link_refused": frozenset(),
    "unlinked": frozenset(),
    "not_linked": frozenset(),
    "link_needed": frozenset(),
    "already_linked": frozenset(),
    "private_only": frozenset(),
}
LINK_PAGE: dict[str, frozenset[str]] = {
    "title": frozenset(),
    "intro": frozenset({"minutes"}),
    "telegram": frozenset(),
    "whatsapp": frozenset(),
    "other": frozenset(),
    "refused": frozenset(),
}
COMMANDS = ("link", "unlink")


class WordsError(ValueError):
    pass


@dataclass(frozen=True)
class ChannelWords:
    texts: dict[str, str]
    link_page: dict[str, str]
    commands: dict[str, tuple[str, ...]]
    article_url: str = ""

    def text(self, key: str, **values: Any) -> str:
        return self.texts[key].format_map({k: "" if v is None else v for k, v in values.items()})


def default_path() -> Path:
    root = Path(os.environ.get("ASSISTANT_ROOT") or Path(__file__).resolve().parents[2])
    data = Path(os.environ.get("ASSISTANT_DATA") or root / "data")
    return (data if data.is_absolute() else root / data) / FILE


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _section(
    where: str, node: yaml.Node | None, value: Any, expected: dict[str, frozenset[str]], name: str
) -> dict[str, str]:
    line = (node.start_mark.line + 1) if node is not None else 1
    if not isinstance(value, dict):
        raise WordsError(f"{where}:{line}: {name} must map each key to a text")
    lines = {}
    if isinstance(node, yaml.MappingNode):
        lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    unknown = sorted(set(value) - set(expected))
    if unknown:
        raise WordsError(f"{where}:{lines.get(unknown[0], line)}: {name}: unknown key {unknown[0]!r}")
    missing = sorted(set(expected) - set(value))
    if missing:
        raise WordsError(f"{where}:{line}: {name}: missing {', '.join(missing)}")
    for key, text in value.items():
        at = f"{where}:{lines.get(key, line)}"
        if not isinstance(text, str) or not text.strip():
            raise WordsError(f"{at}: {name}.{key} must be a text")
        try:
            used = _placeholders(text)
        except ValueError as exc:
            raise WordsError(f"{at}: {name}.{key}: {exc}") from exc
        extra = sorted(used - expected[key])
        if extra:
            allowed = ", ".join("{" + p + "}" for p in sorted(expected[key])) or "none"
            raise WordsError(f"{at}: {name}.{key}: unknown placeholder {{{extra[0]}}} (allowed: {allowed})")
    return {k: str(v) for k, v in value.items()}


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def load_words(path: Path | None = None) -> ChannelWords:
    path = Path(path or default_path())
    where = str(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WordsError(f"{where}:1: cannot read the channels' words: {exc.strerror}") from exc
    try:
        node = yaml.compose(raw_text)
        data = yaml.safe_load(raw_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WordsError(f"{where}:{(mark.line + 1) if mark else 1}: not valid YAML") from exc
    if node is None or not isinstance(data, dict):
        raise WordsError(f"{where}:1: expected texts:, link_page: and commands:")
    texts = _section(where, _child(node, "texts"), data.get("texts"), TEXTS, "texts")
    page = _section(where, _child(node, "link_page"), data.get("link_page"), LINK_PAGE, "link_page")
    raw_commands = data.get("commands")
    commands_node = _child(node, "commands")
    line = (commands_node.start_mark.line + 1) if commands_node is not None else 1
    if not isinstance(raw_commands, dict) or sorted(raw_commands) != sorted(COMMANDS):
        raise WordsError(f"{where}:{line}: commands must list the words for link and unlink")
    commands: dict[str, tuple[str, ...]] = {}
    for key in COMMANDS:
        words = raw_commands[key]
        if (
            not isinstance(words, list)
            or not words
            or not all(isinstance(w, str) and w.strip() for w in words)
        ):
            raise WordsError(f"{where}:{line}: commands.{key} must be a list of words")
        commands[key] = tuple(w.strip().casefold() for w in words)
    article_url = data.get("article_url") or ""
    if not isinstance(article_url, str) or (article_url and _placeholders(article_url) - {"article_id"}):
        at = _child(node, "article_url")
        raise WordsError(
            f"{where}:{(at.start_mark.line + 1) if at else 1}: article_url is a URL with {{article_id}}"
        )
    return ChannelWords(texts=texts, link_page=page, commands=commands, article_url=article_url)
