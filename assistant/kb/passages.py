"""Split articles into passages: example questions, the title, and sentence windows of the body.

Body passages keep their section heading as context, so a sentence such as "It takes 3-5 days"
still says what it is about once it stands alone in the index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from assistant.kb.articles import Article

MAX_WINDOW_WORDS = 60
MAX_WINDOW_SENTENCES = 3

SentenceSplitter = Callable[[str], list[str]]


@dataclass(frozen=True)
class Passage:
    article_id: str
    kind: str  # "question" | "title" | "body"
    text: str  # what is shown
    heading: str = ""
    embed_text: str = ""  # what is encoded: text plus its context

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        return cls(**data)


@lru_cache(maxsize=1)
def _spacy_pipeline() -> Any:
    import spacy  # deferred: spaCy is only needed while building

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def spacy_sentences(text: str) -> list[str]:
    """Sentence segmentation with spaCy's rule-based sentencizer (no model download needed)."""
    return [s.text.strip() for s in _spacy_pipeline()(text).sents if s.text.strip()]


def _blocks(text: str) -> Iterable[str]:
    """Paragraphs and list items: list items are units of their own."""
    for paragraph in re.split(r"\n\s*\n", text):
        items = re.split(r"\n(?=\s*(?:[-*+]|\d+[.)])\s)", paragraph)
        for item in items:
            cleaned = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", item.strip())
            cleaned = re.sub(r"\s*\n\s*", " ", cleaned)
            cleaned = cleaned.replace("**", "").replace("`", "")
            if cleaned and not re.fullmatch(r"[|\-\s:]+", cleaned):
                yield cleaned


def _windows(sentences: list[str]) -> Iterable[str]:
    window: list[str] = []
    words = 0
    for sentence in sentences:
        n = len(sentence.split())
        if window and (words + n > MAX_WINDOW_WORDS or len(window) >= MAX_WINDOW_SENTENCES):
            yield " ".join(window)
            window, words = [], 0
        window.append(sentence)
        words += n
    if window:
        yield " ".join(window)


def split_article(article: Article, sentences: SentenceSplitter = spacy_sentences) -> list[Passage]:
    passages = [
        Passage(article.id, "title", article.title, "", article.title),
    ]
    passages += [Passage(article.id, "question", q, "", q) for q in article.questions]
    for section in article.sections:
        heading = section.heading or article.title
        for block in _blocks(section.text):
            for window in _windows(sentences(block)):
                context = article.title if heading == article.title else f"{article.title} - {heading}"
                passages.append(Passage(article.id, "body", window, heading, f"{context}: {window}"))
    return passages
