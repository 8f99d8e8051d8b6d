"""Ranking articles for one encoded question: retrieval, the learned head, and their fusion.

- **Retrieval** scores every article from its passages: the dense similarity of its best
  passage blended with the mean of its best few, plus BM25 over the same passages (so product
  names, codes and rare words count).
- **The head** (:mod:`assistant.kb.head`) gives P(article | question), learned from the
  editors' example questions.
- **Fusion** blends the two: (1 - w) x retrieval + w x the head's probability, w = 1/3 (chosen
  on a validation split of BANKING77's train set). Retrieval alone still ranks articles without
  examples and keeps working when there is no head.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from assistant.kb.head import QuestionHead
    from assistant.kb.index import KBIndex


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
class FusionSettings:
    """How the head's probability joins the retrieval score."""

    head_weight: float = 1 / 3  # score = (1 - w) x retrieval + w x P(article | question)
    head_candidates: int = 5  # the head's best articles always join retrieval's candidates

    def __post_init__(self) -> None:
        if not 0 <= self.head_weight <= 1 or self.head_candidates < 0:
            raise ValueError("head_weight must be in [0, 1] and head_candidates not negative")


@dataclass(frozen=True)
class ArticleHit:
    id: str
    title: str
    score: float  # the fused ranking score
    passage: str = ""
    passage_kind: str = ""
    dense: float = 0.0  # cosine similarity of the best passage
    lexical: float = 0.0  # BM25 of the best lexical passage
    retrieval: float = 0.0  # the retrieval score before the head joined
    head: float = 0.0  # P(article | question) from the head (0 without a head)


def rank(
    index: KBIndex,
    query: np.ndarray,
    question: str,
    retrieval: RetrievalSettings,
    fusion: FusionSettings,
    *,
    head: QuestionHead | None = None,
    head_probabilities: np.ndarray | None = None,
    limit: int = 5,
    exclude: int | None = None,
) -> list[ArticleHit]:
    """Articles by fused score. ``head_probabilities``: one row over ``head.labels`` (None:
    retrieval alone). ``exclude``: a passage to ignore (calibration searches each example
    question as if new)."""
    if head is None or head_probabilities is None or fusion.head_weight == 0:
        return rank_vector(index, query, question, retrieval, limit=limit, exclude=exclude)
    p = np.asarray(head_probabilities, dtype=np.float64).reshape(-1)
    labels = head.labels
    best = np.argsort(-p)[: fusion.head_candidates]
    hits = rank_vector(
        index, query, question, retrieval, limit=None, exclude=exclude, also=(labels[i] for i in best)
    )
    position = head.position
    fused = [
        replace(
            h,
            score=float(
                (1 - fusion.head_weight) * h.score
                + fusion.head_weight * (p[position[h.id]] if h.id in position else 0.0)
            ),
            retrieval=h.score,
            head=float(p[position[h.id]]) if h.id in position else 0.0,
        )
        for h in hits
    ]
    fused.sort(key=lambda h: -h.score)
    return fused[:limit]


def rank_vector(
    index: KBIndex,
    query: np.ndarray,
    question: str,
    settings: RetrievalSettings,
    *,
    limit: int | None = 5,
    exclude: int | None = None,
    also: Iterable[str] = (),
) -> list[ArticleHit]:
    """Articles ranked by retrieval score alone (``limit`` None: every candidate; ``also``:
    articles to score even when no passage of theirs is among the nearest)."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    lexical = index.lexical.scores(question) if settings.lexical_weight > 0 else None
    if index.index_type == "flat-ip":
        return _rank_all(index, q, lexical, settings, limit, exclude)
    return _rank_candidates(index, q, lexical, settings, limit, exclude, also)


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
                retrieval=float(fused[i]),
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


def _rank_candidates(index, q, lexical, settings, limit, exclude, also) -> list[ArticleHit]:
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
    for article_id in also:
        candidates.setdefault(article_id)
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
