"""Question answering over the index: read, encode, rank, decide.

1. The question is read in the articles' words (:mod:`assistant.kb.spelling`): the editors'
   synonyms, then spelling corrected against the knowledge base's vocabulary.
2. It is encoded once, and ranked (:mod:`assistant.kb.ranking`): passage retrieval fused with
   the head learned from the example questions.
3. Confidence is a probability, not a raw score: a :class:`~assistant.kb.calibrate.Calibration`
   fitted on example questions searched as if new maps ranking features to P(best article is
   right) and P(right article is among the offered ones). Thresholds an editor can change turn
   those into: answer, clarify (offer the candidates), or decline (say so, offer a person).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.kb.calibrate import Calibration, features
from assistant.kb.encoder import Encoder
from assistant.kb.index import KBIndex
from assistant.kb.ranking import ArticleHit, FusionSettings, RetrievalSettings, rank

logger = logging.getLogger(__name__)

ANSWER = "answer"
CLARIFY = "clarify"
DECLINE = "decline"


@dataclass(frozen=True)
class DecisionSettings:
    """When to answer, offer choices, or say "I don't know". Editors may change these.

    Both thresholds are probabilities from the calibration:
    - answer when P(the best article is right) >= ``answer_at``;
    - else clarify when P(the right article is among the top ``clarify_options``) >= ``clarify_at``;
    - else decline and offer a person.
    """

    answer_at: float = 0.85
    clarify_at: float = 0.4
    clarify_options: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.clarify_at <= 1.0 or not 0.0 <= self.answer_at <= 1.0:
            raise ValueError("answer_at and clarify_at are probabilities between 0 and 1")
        if self.clarify_options < 2:
            raise ValueError("clarify_options must be at least 2")

    def choose(self, confidence: float, coverage: float) -> str:
        """The decision these thresholds make for a calibrated confidence and coverage."""
        if confidence >= self.answer_at:
            return ANSWER
        if coverage >= self.clarify_at:
            return CLARIFY
        return DECLINE


@dataclass(frozen=True)
class SearchResult:
    question: str
    decision: str
    articles: list[ArticleHit] = field(default_factory=list)
    confidence: float = 0.0  # P(best article is right)
    coverage: float = 0.0  # P(right article among the offered ones)
    elapsed_ms: float = 0.0
    read_as: str = ""  # the question after synonyms and spelling (shown when it differs)

    @property
    def best(self) -> ArticleHit | None:
        return self.articles[0] if self.articles else None

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question,
            "decision": self.decision,
            "articles": [{"id": h.id, "score": round(h.score, 4)} for h in self.articles],
        }
        if detail:
            data["confidence"] = round(self.confidence, 4)
            data["coverage"] = round(self.coverage, 4)
            data["elapsed_ms"] = self.elapsed_ms
            if self.read_as and self.read_as != self.question:
                data["read_as"] = self.read_as
            for item, hit in zip(data["articles"], self.articles, strict=True):
                item.update(
                    title=hit.title,
                    dense=round(hit.dense, 4),
                    lexical=round(hit.lexical, 4),
                    head=round(hit.head, 4),
                    passage=hit.passage,
                    passage_kind=hit.passage_kind,
                )
        return data


class KnowledgeBase:
    """Answers questions from one :class:`KBIndex` with one :class:`Encoder`."""

    def __init__(
        self,
        index: KBIndex,
        encoder: Encoder,
        settings: DecisionSettings | None = None,
        retrieval: RetrievalSettings | None = None,
        fusion: FusionSettings | None = None,
    ):
        if index.model != encoder.name or index.dim != encoder.dim:
            raise ValueError(
                f"index was built with {index.model} ({index.dim}d), "
                f"encoder is {encoder.name} ({encoder.dim}d): rebuild the index"
            )
        self.index = index
        self.encoder = encoder
        self.settings = settings or DecisionSettings()
        self.retrieval = retrieval or RetrievalSettings()
        self.fusion = fusion or FusionSettings()
        self.calibration: Calibration = index.calibration or Calibration.default()

    def rank(self, question: str, limit: int = 5) -> list[ArticleHit]:
        """``question`` as already read (:meth:`read`)."""
        return self.rank_vector(self.encoder.encode([question])[0], question, limit=limit)

    def rank_vector(self, vector: np.ndarray, question: str, limit: int = 5) -> list[ArticleHit]:
        head = self.index.head
        probabilities = head.probabilities(vector, [question])[0] if head is not None else None
        return rank(
            self.index,
            vector,
            question,
            self.retrieval,
            self.fusion,
            head=head,
            head_probabilities=probabilities,
            limit=limit,
        )

    def read(self, question: str) -> str:
        """The question in the articles' words: synonyms, then spelling."""
        return self.index.normalize(" ".join(question.split()))

    def decide(
        self, hits: list[ArticleHit], settings: DecisionSettings | None = None
    ) -> tuple[str, float, float]:
        """The decision, P(best is right) and P(right one among the offered). ``settings``:
        other thresholds than this knowledge base's (the editors' workbench asks "what if")."""
        if not hits:
            return DECLINE, 0.0, 0.0
        x = features(hits)
        confidence = self.calibration.p_top1(x)
        coverage = self.calibration.p_topk(x)
        return (settings or self.settings).choose(confidence, coverage), confidence, coverage

    def search(self, question: str, limit: int = 5) -> SearchResult:
        started = time.perf_counter()
        question = " ".join(question.split())
        if not question:
            return SearchResult(question, DECLINE, [])
        read_as = self.read(question)
        hits = self.rank(read_as, limit=max(limit, self.settings.clarify_options))
        decision, confidence, coverage = self.decide(hits)
        elapsed = (time.perf_counter() - started) * 1000
        result = SearchResult(
            question,
            decision,
            hits[:limit],
            round(confidence, 4),
            round(coverage, 4),
            round(elapsed, 2),
            read_as,
        )
        logger.info(
            "kb decision=%s confidence=%.3f coverage=%.3f top=%s",
            decision,
            confidence,
            coverage,
            [(h.id, round(h.score, 3)) for h in result.articles[:3]],
        )
        return result
