"""Changing article files from the console: example questions added, a new article published.

Every change is checked before it is written: the changed file must parse as an article, a new
id must be free, and no question may already be another article's example (two articles with
the same question contradict each other). Files are written whole to a temporary file and moved
into place, so a running watcher never reads half a file. The editor's text around the change
(comments, order, other fields) is kept as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.kb.articles import (
    FRONT_MATTER_FENCE,
    ID_PATTERN,
    MAX_QUESTIONS,
    SKIPPED_FILES,
    Article,
    ArticleError,
    Problem,
    load_articles,
    parse_article,
)

MAX_QUESTION_CHARS = 300


@dataclass(frozen=True)
class Conflict:
    question: str
    article_id: str  # the article that already has it as an example

    def to_dict(self) -> dict[str, str]:
        return {"question": self.question, "article_id": self.article_id}


class EditConflict(Exception):
    def __init__(self, conflicts: list[Conflict]):
        super().__init__(
            "; ".join(f"{c.question!r} is already an example of {c.article_id}" for c in conflicts)
        )
        self.conflicts = conflicts


def normalise(question: str) -> str:
    """How two questions are compared: case, spacing and end punctuation ignored."""
    return re.sub(r"[\s?!.,;:]+", " ", question.casefold()).strip()


def examples_index(articles: list[Article]) -> dict[str, str]:
    """Every example question (normalised) and the article it belongs to."""
    return {normalise(q): a.id for a in articles for q in a.questions}


def conflicts_for(questions: list[str], article_id: str, articles: list[Article]) -> list[Conflict]:
    index = examples_index(articles)
    return [
        Conflict(q, index[normalise(q)])
        for q in questions
        if normalise(q) in index and index[normalise(q)] != article_id
    ]


def clean_questions(questions: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for q in questions:
        text = " ".join(str(q).split())
        if not text:
            continue
        if len(text) > MAX_QUESTION_CHARS:
            raise ValueError(f"a question is at most {MAX_QUESTION_CHARS} characters")
        if normalise(text) not in seen:
            seen.add(normalise(text))
            out.append(text)
    return out


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".md.part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _yaml_item(question: str) -> str:
    dumped = yaml.safe_dump([question], allow_unicode=True, width=10_000, default_flow_style=False)
    return dumped.rstrip("\n")


def add_questions(source: Path, article_id: str, questions: list[str]) -> tuple[Path, list[str]]:
    """Add ``questions`` to the article's examples; returns its file and the questions written
    (those it already had are skipped). Raises :class:`EditConflict` or :class:`ArticleError`."""
    articles = load_articles(source)
    article = next((a for a in articles if a.id == article_id), None)
    if article is None:
        raise ArticleError([Problem(str(source), 1, f"no article with id {article_id!r}")])
    questions = clean_questions(questions)
    conflicts = conflicts_for(questions, article_id, articles)
    if conflicts:
        raise EditConflict(conflicts)
    have = {normalise(q) for q in article.questions}
    new = [q for q in questions if normalise(q) not in have]
    path = Path(article.source)
    if not new:
        return path, []
    if len(article.questions) + len(new) > MAX_QUESTIONS:
        raise ArticleError(
            [Problem(str(path), 1, f"{article_id} would have more than {MAX_QUESTIONS} example questions")]
        )
    text = path.read_text(encoding="utf-8")
    changed = _with_questions(text, [*article.questions, *new], new)
    # the result must read back as exactly the old examples and the new ones, whatever the
    # file's layout was (a block list, a flow list, comments)
    if parse_article(changed, str(path)).questions != (*article.questions, *new):
        raise ArticleError([Problem(str(path), 1, "could not add the questions without changing others")])
    _write(path, changed)
    return path, new


def _with_questions(text: str, all_questions: list[str], new: list[str]) -> str:
    """The file's text with ``new`` appended to its example questions: after the last item of
    a plain block list (everything else kept as written), else the field rewritten whole."""
    lines = text.split("\n")
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == FRONT_MATTER_FENCE)
    start = next((i for i in range(1, end) if re.match(r"^questions\s*:", lines[i])), None)
    block = ["questions:", *(_yaml_item(q) for q in all_questions)]
    if start is None:
        lines[end:end] = block
        return "\n".join(lines)
    span = start + 1
    while span < end and (lines[span].startswith((" ", "\t", "-")) or not lines[span].strip()):
        span += 1
    items = lines[start + 1 : span]
    plain = (
        lines[start].split(":", 1)[1].strip() == ""
        and items
        and all(re.match(r"^(\s*)- \S", item) for item in items if item.strip())
    )
    if plain:
        last = max(i for i in range(start + 1, span) if lines[i].strip())
        indent = re.match(r"^(\s*)-", lines[last]).group(1)  # type: ignore[union-attr]
        lines[last + 1 : last + 1] = [indent + _yaml_item(q) for q in new]
    else:  # a flow list, comments or multi-line items: the field is written anew
        lines[start:span] = block
    return "\n".join(lines)


def new_article(
    source: Path, folder: str, article_id: str, title: str, category: str, body: str, questions: list[str]
) -> Path:
    """Publish a new article file ``source/folder/article_id.md``."""
    if not ID_PATTERN.match(article_id) or len(article_id) > 80:
        raise ArticleError(
            [Problem(str(source), 1, f"id {article_id!r} may hold only letters, digits, _ - ?")]
        )
    if not re.match(r"^[a-z0-9_-]{1,60}$", folder) or not (Path(source) / folder).is_dir():
        raise ArticleError([Problem(str(source), 1, f"no article folder {folder!r}")])
    articles = load_articles(source)
    if any(a.id.casefold() == article_id.casefold() for a in articles):
        raise ArticleError([Problem(str(source), 1, f"an article with id {article_id!r} exists already")])
    if f"{article_id}.md" in SKIPPED_FILES or any(
        p.name.casefold() == f"{article_id}.md".casefold() for p in (Path(source) / folder).iterdir()
    ):
        raise ArticleError([Problem(str(source), 1, f"a file named {article_id}.md exists already")])
    questions = clean_questions(questions)[:MAX_QUESTIONS]
    conflicts = conflicts_for(questions, article_id, articles)
    if conflicts:
        raise EditConflict(conflicts)
    front = yaml.safe_dump(
        {
            "id": article_id,
            "title": " ".join(title.split()),
            "category": " ".join(category.split()),
            "questions": questions,
        },
        allow_unicode=True,
        sort_keys=False,
        width=10_000,
    )
    text = f"---\n{front}---\n{body.strip()}\n"
    path = Path(source) / folder / f"{article_id}.md"
    parse_article(text, str(path))
    _write(path, text)
    return path


def folders(source: Path) -> dict[str, str]:
    """The article folders and the category their articles use."""
    out: dict[str, str] = {}
    for article in load_articles(source):
        folder = Path(article.source).parent.name
        out.setdefault(folder, article.category)
    return out
