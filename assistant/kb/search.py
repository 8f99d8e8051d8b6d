"""Question answering over the index: hybrid ranking, calibrated confidence, and a decision.

Ranking fuses, per article, the dense similarity of its best passage, the mean of its best few
passages, and BM25 over the same passages (so product names, codes and rare words count).
Confidence is a probability, not a raw score: a :class:`~assistant.kb.calibrate.Calibration`
fitted on held-out examples maps ranking features to P(best article is right) and
P(right article is among the offered ones). Thresholds an editor can change turn those into:
answer, clarify (offer the candidates), or decline (say so, offer a person).
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

logger = logging.getLogger(__name__)

ANSWER = "answer"
CLARIFY = "clarify"
DECLINE = "decline"


@dataclass(frozen=True)
class RetrievalSettings:
    """How passages are found and fused into article scores."""

    candidates: int = 64  # dense passages fetched from FAISS
    lexical_candidates: int = 16  # best BM25 passages added to the candidates
    top_k_mean: int = 3  # an article's dense score blends its best passage and its best k
    max_weight: float = 0.5  # weight of the best passage in that blend
    lexical_weight: float = 0.05  # weight of BM25 (scaled to the best BM25 score of the query)

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.lexical_candidates < 0 or self.top_k_mean < 1:
            raise ValueError("candidates and top_k_mean must be at least 1, lexical_candidates at least 0")
        if not 0 <= self.max_weight <= 1 or self.lexical_weight < 0:
            raise ValueError("max_weight must be in [0, 1] and lexical_weight not negative")


@dataclass(frozen=True)
class DecisionSettings:
    """When to answer, offer choices, or say "I don't know". Editors may change these.

    Both thresholds are probabilities from the calibration:
    - answer when P(the best article is right) >= ``answer_at``;
    - else clarify when P(the right article is among the top ``clarify_options``) >= ``clarify_at``;
    - else decline and offer a person.
    """

    answer_at: float = 0.6
    clarify_at: float = 0.45
    clarify_options: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.clarify_at <= 1.0 or not 0.0 <= self.answer_at <= 1.0:
            raise ValueError("answer_at and clarify_at are probabilities between 0 and 1")
        if self.clarify_options < 2:
            raise ValueError("clarify_options must be at least 2")


@dataclass(frozen=True)
class ArticleHit:
    id: str
    title: str
    score: float  # fused ranking score
    passage: str = ""
    passage_kind: str = ""
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    question: str
    decision: str
    articles: list[ArticleHit] = field(default_factory=list)
    confidence: float = 0.0  # P(best article is right)
    coverage: float = 0.0  # P(right article among the offered ones)
    elapsed_ms: float = 0.0

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
            for item, hit in zip(data["articles"], self.articles, strict=True):
                item.update(
                    title=hit.title,
                    dense=round(hit.dense, 4),
                    lexical=round(hit.lexical, 4),
                    passage=hit.passage,
                    passage_kind=hit.passage_kind,
                )
        return data


def rank_vector(
    index: KBIndex,
    query: np.ndarray,
    question: str,
    settings: RetrievalSettings,
    *,
    limit: int = 5,
    exclude: int | None = None,
) -> list[ArticleHit]:
    """Articles ranked by fused score for one encoded query (``exclude``: a passage to ignore,
    used for leave-one-out calibration)."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    lexical = index.lexical.scores(question) if settings.lexical_weight > 0 else None
    if index.index_type == "flat-ip":
        return _rank_all(index, q, lexical, settings, limit, exclude)
    return _rank_candidates(index, q, lexical, settings, limit, exclude)


def _fuse(
    best: np.ndarray, mean_k: np.ndarray, lex: np.ndarray, lex_top: float, s: RetrievalSettings
) -> np.ndarray:
    fused = s.max_weight * best + (1 - s.max_weight) * mean_k
    if lex_top > 0:
        fused = fused + s.lexical_weight * lex / lex_top
    return fused


def _hits(index: KBIndex, ids: list[str], fused, best, lex, passage_rows, order) -> list[ArticleHit]:
    hits = []
    for i in order:
        article = index.articles[ids[i]]
        passage = index.passages[int(passage_rows[i])]
        hits.append(
            ArticleHit(
                article.id,
                article.title,
                float(fused[i]),
                passage.text,
                passage.kind,
                float(best[i]),
                float(lex[i]),
            )
        )
    return hits


def _rank_all(index, q, lexical, settings, limit, exclude) -> list[ArticleHit]:
    """Small (exact) index: score every passage, aggregate every article, vectorised."""
    dense = index.vectors @ q
    if exclude is not None:
        dense[exclude] = -np.inf
    padded = index.padded_rows
    scores = np.where(padded >= 0, dense[padded], -np.inf)
    k = min(settings.top_k_mean, scores.shape[1])
    top = -np.partition(-scores, k - 1, axis=1)[:, :k] if scores.shape[1] > k else scores
    best = top.max(axis=1)
    finite = np.isfinite(top)
    mean_k = np.where(finite, top, 0).sum(axis=1) / np.maximum(finite.sum(axis=1), 1)
    best_rows = padded[np.arange(len(padded)), np.argmax(scores, axis=1)]
    if lexical is not None:
        if exclude is not None:
            lexical = lexical.copy()
            lexical[exclude] = 0.0
        lex = np.where(padded >= 0, lexical[padded], 0.0).max(axis=1)
        lex_top = float(lexical.max()) if lexical.size else 0.0
    else:
        lex, lex_top = np.zeros(len(padded)), 0.0
    fused = _fuse(best, mean_k, lex, lex_top, settings)
    fused[~np.isfinite(best)] = -np.inf
    order = [i for i in np.argsort(-fused)[:limit] if np.isfinite(fused[i])]
    return _hits(index, index.article_ids, fused, best, lex, best_rows, order)


def _rank_candidates(index, q, lexical, settings, limit, exclude) -> list[ArticleHit]:
    """Large (HNSW) index: gather candidate articles from the nearest passages and BM25."""
    _, ids = index.search_vectors(q, settings.candidates + (1 if exclude is not None else 0))
    candidates: dict[str, None] = {}
    for i in ids[0]:
        if i >= 0 and i != exclude:
            candidates.setdefault(index.passages[int(i)].article_id)
    if lexical is not None and settings.lexical_candidates and lexical.any():
        for i in np.argsort(-lexical)[: settings.lexical_candidates]:
            if lexical[i] > 0 and i != exclude:
                candidates.setdefault(index.passages[int(i)].article_id)
    lex_top = float(lexical.max()) if lexical is not None and lexical.size else 0.0
    names, best, mean_k, lex, rows_best = [], [], [], [], []
    for article_id in candidates:
        rows = index.rows_of(article_id)
        if exclude is not None:
            rows = rows[rows != exclude]
        if rows.size == 0:
            continue
        dense = index.vectors[rows] @ q
        order = np.argsort(-dense)
        names.append(article_id)
        best.append(float(dense[order[0]]))
        mean_k.append(float(dense[order[: settings.top_k_mean]].mean()))
        lex.append(float(lexical[rows].max()) if lexical is not None else 0.0)
        rows_best.append(int(rows[order[0]]))
    if not names:
        return []
    best_a, lex_a = np.array(best), np.array(lex)
    fused = _fuse(best_a, np.array(mean_k), lex_a, lex_top, settings)
    top = [int(i) for i in np.argsort(-fused)[:limit]]
    return _hits(index, names, fused, best_a, lex_a, rows_best, top)


class KnowledgeBase:
    """Answers questions from one :class:`KBIndex` with one :class:`Encoder`."""

    def __init__(
        self,
        index: KBIndex,
        encoder: Encoder,
        settings: DecisionSettings | None = None,
        retrieval: RetrievalSettings | None = None,
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
        self.calibration: Calibration = index.calibration or Calibration.default()

    def rank(self, question: str, limit: int = 5) -> list[ArticleHit]:
        return rank_vector(self.index, self.encoder.encode([question]), question, self.retrieval, limit=limit)

    def decide(self, hits: list[ArticleHit]) -> tuple[str, float, float]:
        """The decision, P(best is right) and P(right one among the offered)."""
        if not hits:
            return DECLINE, 0.0, 0.0
        x = features(hits)
        confidence = self.calibration.p_top1(x)
        coverage = self.calibration.p_topk(x)
        if confidence >= self.settings.answer_at:
            return ANSWER, confidence, coverage
        if coverage >= self.settings.clarify_at:
            return CLARIFY, confidence, coverage
        return DECLINE, confidence, coverage

    def search(self, question: str, limit: int = 5) -> SearchResult:
        started = time.perf_counter()
        question = " ".join(question.split())
        if not question:
            return SearchResult(question, DECLINE, [])
        hits = self.rank(question, limit=max(limit, self.settings.clarify_options))
        decision, confidence, coverage = self.decide(hits)
        elapsed = (time.perf_counter() - started) * 1000
        result = SearchResult(
            question, decision, hits[:limit], round(confidence, 4), round(coverage, 4), round(elapsed, 2)
        )
        logger.info(
            "kb decision=%s confidence=%.3f coverage=%.3f top=%s",
            decision,
            confidence,
            coverage,
            [(h.id, round(h.score, 3)) for h in result.articles[:3]],
        )
        return result
