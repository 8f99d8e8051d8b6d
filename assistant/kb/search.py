"""Question answering over the index: rank articles, then decide answer, clarify or decline."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.kb.encoder import Encoder
from assistant.kb.index import KBIndex

logger = logging.getLogger(__name__)

ANSWER = "answer"
CLARIFY = "clarify"
DECLINE = "decline"


@dataclass(frozen=True)
class DecisionSettings:
    """When to answer, offer choices, or say "I don't know". Editors may change these.

    - below ``decline_below`` the best article is not a match: decline;
    - at or above ``answer_above`` with a lead of at least ``clarify_margin`` over the
      runner-up: answer;
    - otherwise: clarify, offering up to ``clarify_options`` articles as buttons.
    """

    answer_above: float = 0.60
    decline_below: float = 0.50
    clarify_margin: float = 0.04
    clarify_options: int = 3
    candidates: int = 40

    def __post_init__(self) -> None:
        if not 0.0 <= self.decline_below <= self.answer_above <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= decline_below <= answer_above <= 1")
        if self.clarify_margin < 0:
            raise ValueError("clarify_margin must not be negative")
        if self.clarify_options < 2:
            raise ValueError("clarify_options must be at least 2")
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")


@dataclass(frozen=True)
class ArticleHit:
    id: str
    title: str
    score: float
    passage: str
    passage_kind: str


@dataclass(frozen=True)
class SearchResult:
    question: str
    decision: str
    articles: list[ArticleHit] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def best(self) -> ArticleHit | None:
        return self.articles[0] if self.articles else None

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        articles: list[dict[str, Any]] = []
        for hit in self.articles:
            item: dict[str, Any] = {"id": hit.id, "score": round(hit.score, 4)}
            if detail:
                item.update(asdict(hit))
                item["score"] = round(hit.score, 4)
            articles.append(item)
        return {"question": self.question, "decision": self.decision, "articles": articles}


class KnowledgeBase:
    """Answers questions from one :class:`KBIndex` with one :class:`Encoder`."""

    def __init__(self, index: KBIndex, encoder: Encoder, settings: DecisionSettings | None = None):
        if index.model != encoder.name or index.dim != encoder.dim:
            raise ValueError(
                f"index was built with {index.model} ({index.dim}d), "
                f"encoder is {encoder.name} ({encoder.dim}d): rebuild the index"
            )
        self.index = index
        self.encoder = encoder
        self.settings = settings or DecisionSettings()

    def rank(self, question: str, limit: int = 5) -> list[ArticleHit]:
        """Articles ranked by their best-matching passage."""
        query = self.encoder.encode([question])
        scores, ids = self.index.search_vectors(query, self.settings.candidates)
        best: dict[str, ArticleHit] = {}
        for score, i in zip(scores[0], ids[0], strict=False):
            if i < 0:
                continue
            passage = self.index.passages[int(i)]
            if passage.article_id in best:
                continue
            article = self.index.articles[passage.article_id]
            best[passage.article_id] = ArticleHit(
                id=article.id,
                title=article.title,
                score=float(score),
                passage=passage.text,
                passage_kind=passage.kind,
            )
            if len(best) >= limit:
                break
        return sorted(best.values(), key=lambda h: h.score, reverse=True)

    def decide(self, hits: list[ArticleHit]) -> str:
        s = self.settings
        if not hits or hits[0].score < s.decline_below:
            return DECLINE
        margin = hits[0].score - hits[1].score if len(hits) > 1 else 1.0
        if hits[0].score >= s.answer_above and margin >= s.clarify_margin:
            return ANSWER
        return CLARIFY

    def search(self, question: str, limit: int = 5) -> SearchResult:
        started = time.perf_counter()
        question = " ".join(question.split())
        if not question:
            return SearchResult(question, DECLINE, [])
        hits = self.rank(question, limit=max(limit, self.settings.clarify_options))
        decision = self.decide(hits)
        if decision == CLARIFY:
            hits = [h for h in hits if h.score >= self.settings.decline_below]
        elapsed = (time.perf_counter() - started) * 1000
        result = SearchResult(question, decision, hits[:limit], round(elapsed, 2))
        logger.info(
            "kb decision=%s top=%s",
            decision,
            [(h.id, round(h.score, 3)) for h in result.articles[:3]],
        )
        return result
