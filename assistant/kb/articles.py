"""Articles: the editors' Markdown files with YAML front matter, parsed and validated.

An article file looks like::

    ---
    id: card_arrival
    title: My card hasn't arrived yet
    category: Cards
    questions:
      - Why haven't I received my new card yet?
    related: [card_delivery_estimate]
    ---
    Lead paragraph: the short answer shown in chat.

    ## A section heading
    More detail.

Every problem is reported with the file and line it was found on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FRONT_MATTER_FENCE = "---"
REQUIRED_FIELDS = ("id", "title", "category")
KNOWN_FIELDS = {"id", "title", "category", "questions", "related", "tags"}
ID_PATTERN = re.compile(r"^[A-Za-z0-9_?\-]+$")
MAX_QUESTIONS = 40  # accepted suggestions add to the editors' own (README, "Insights")
# libyaml's safe loader when present: several times faster on a knowledge base of many files.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Files under the source folder that are documentation, not articles.
SKIPPED_FILES = {"README.md"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, at one line (1-based)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ArticleError(Exception):
    """Raised when one or more article files are broken. Carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Section:
    heading: str
    text: str


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    category: str
    body: str
    questions: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: str = ""

    @property
    def summary(self) -> str:
        """The lead paragraph: the text shown as the chat answer."""
        return self.sections[0].text.split("\n\n", 1)[0].strip()

    @property
    def sections(self) -> list[Section]:
        """The body split at ``##`` headings. The lead section has an empty heading."""
        sections: list[Section] = []
        heading = ""
        lines: list[str] = []
        for line in self.body.splitlines():
            match = re.match(r"^#{1,6}\s+(.*)$", line)
            if match:
                if heading or "".join(lines).strip():
                    sections.append(Section(heading, "\n".join(lines).strip()))
                heading, lines = match.group(1).strip(), []
            else:
                lines.append(line)
        if heading or "".join(lines).strip():
            sections.append(Section(heading, "\n".join(lines).strip()))
        return sections or [Section("", "")]

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is indexed changes."""
        payload = json.dumps(
            [self.id, self.title, self.category, self.body, self.questions],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "body": self.body,
            "questions": list(self.questions),
            "related": list(self.related),
            "tags": list(self.tags),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return cls(
            id=data["id"],
            title=data["title"],
            category=data["category"],
            body=data["body"],
            questions=tuple(data.get("questions", ())),
            related=tuple(data.get("related", ())),
            tags=tuple(data.get("tags", ())),
            source=data.get("source", ""),
        )


def _string_list(value: Any, name: str, path: str, line: int) -> tuple[list[str], list[Problem]]:
    if value is None:
        return [], []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return [], [Problem(path, line, f"'{name}' must be a list of non-empty strings")]
    return [v.strip() for v in value], []


def _key_lines(front: str) -> dict[str, int]:
    """Line (1-based, within the front matter) of each top-level key, for error messages."""
    lines: dict[str, int] = {}
    for number, line in enumerate(front.splitlines(), start=1):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def parse_article(text: str, path: str) -> Article:
    """Parse one article file. Raises :class:`ArticleError` naming file and line."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
        raise ArticleError([Problem(path, 1, "file must start with '---' and YAML front matter")])
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == FRONT_MATTER_FENCE)
    except StopIteration:
        raise ArticleError(
            [Problem(path, 1, "front matter is not closed with a second '---' line")]
        ) from None
    front = "\n".join(lines[1:end])
    try:
        meta = yaml.load(front, Loader=YAML_LOADER)  # a safe loader (C or Python)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 2) if mark is not None else 1
        problem = f"{exc.problem or 'invalid YAML'}" + (f" ({exc.context})" if exc.context else "")
        raise ArticleError([Problem(path, line, f"invalid YAML front matter: {problem}")]) from exc
    if not isinstance(meta, dict):
        raise ArticleError([Problem(path, 2, "front matter must be a mapping of fields")])

    key_line = {key: number + 1 for key, number in _key_lines(front).items()}
    problems: list[Problem] = []
    for name in REQUIRED_FIELDS:
        value = meta.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(path, key_line.get(name, 2), f"missing or empty '{name}'"))
    for name in sorted(set(meta) - KNOWN_FIELDS):
        problems.append(Problem(path, key_line.get(str(name), 2), f"unknown field '{name}'"))
    article_id = str(meta.get("id", "")).strip()
    if article_id and not ID_PATTERN.match(article_id):
        problems.append(
            Problem(path, key_line.get("id", 2), f"id {article_id!r} may hold only letters, digits, _ - ?")
        )
    questions, qp = _string_list(meta.get("questions"), "questions", path, key_line.get("questions", 2))
    related, rp = _string_list(meta.get("related"), "related", path, key_line.get("related", 2))
    tags, tp = _string_list(meta.get("tags"), "tags", path, key_line.get("tags", 2))
    problems += qp + rp + tp
    if len(questions) > MAX_QUESTIONS:
        problems.append(
            Problem(
                path,
                key_line.get("questions", 2),
                f"at most {MAX_QUESTIONS} questions, found {len(questions)}",
            )
        )
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        problems.append(Problem(path, end + 2, "the article has no body text"))
    elif body.lstrip().startswith("#"):
        problems.append(
            Problem(
                path, end + 2, "start the body with a lead paragraph (the chat answer) before any heading"
            )
        )
    if problems:
        raise ArticleError(problems)
    return Article(
        id=article_id,
        title=str(meta["title"]).strip(),
        category=str(meta["category"]).strip(),
        body=body,
        questions=tuple(questions),
        related=tuple(related),
        tags=tuple(tags),
        source=path,
    )


def article_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if p.name not in SKIPPED_FILES)


def line_of(path: Path, needle: str) -> int:
    """First line (1-based) of ``path`` containing ``needle``; 1 when absent."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    return 1


def load_articles(root: Path) -> list[Article]:
    """Load and validate every article under ``root``.

    Collects the problems of all files (and duplicate ids, unknown related ids) and raises one
    :class:`ArticleError` with all of them, so an editor sees everything at once.
    """
    root = Path(root)
    if not root.is_dir():
        raise ArticleError([Problem(str(root), 1, "knowledge-base folder does not exist")])
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in article_files(root):
        shown = str(path)
        try:
            articles.append(parse_article(path.read_text(encoding="utf-8"), shown))
        except UnicodeDecodeError:
            problems.append(Problem(shown, 1, "file is not UTF-8 text"))
        except ArticleError as exc:
            problems.extend(exc.problems)
    seen: dict[str, Article] = {}
    for article in articles:
        if article.id in seen:
            problems.append(
                Problem(article.source, 2, f"duplicate id {article.id!r}, also in {seen[article.id].source}")
            )
        seen[article.id] = article
    for article in articles:
        for rel in article.related:
            if rel not in seen:
                line = line_of(Path(article.source), rel)
                problems.append(Problem(article.source, line, f"related article {rel!r} does not exist"))
    if not articles and not problems:
        problems.append(Problem(str(root), 1, "no article files (*.md) found"))
    if problems:
        raise ArticleError(problems)
    return articles
