"""Building an index: articles -> passages -> vectors -> FAISS, the learned head, the calibration.

A build is incremental: an article whose content hash is unchanged keeps its passages and
vectors from the previous build, so only what an editor changed is encoded again. The head is
refitted every time (about a second). The calibration is refitted unless the caller asks to
publish fast with the previous one (the article watcher does, then refits right after).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.kb.articles import Article, load_articles
from assistant.kb.calibrate import Calibration, features, fit_calibration, read_out_of_scope
from assistant.kb.encoder import Encoder
from assistant.kb.head import HeadSettings, QuestionHead
from assistant.kb.index import KBIndex, current_build, load_index, make_faiss_index, save_index
from assistant.kb.passages import Passage, split_article
from assistant.kb.ranking import FusionSettings, RetrievalSettings, rank
from assistant.kb.spelling import load_vocabulary

logger = logging.getLogger(__name__)

CALIBRATION_FOLDS = 5


@dataclass
class BuildReport:
    build_id: str
    articles: int
    passages: int
    reused_articles: int
    encoded_passages: int
    seconds: float
    head_seconds: float = 0.0
    calibration_seconds: float = 0.0
    index: KBIndex | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "index"}


def build_index(
    articles: list[Article],
    encoder: Encoder,
    previous: KBIndex | None = None,
    *,
    out_of_scope: list[str] | None = None,
    synonyms: dict[str, str] | None = None,
    calibrate: bool = True,
    head: HeadSettings | None = None,
    retrieval: RetrievalSettings | None = None,
    fusion: FusionSettings | None = None,
    show_progress: bool = False,
) -> tuple[KBIndex, BuildReport]:
    """Embed the passages of ``articles``, re-using the vectors of unchanged articles."""
    started = time.perf_counter()
    retrieval = retrieval or RetrievalSettings()
    fusion = fusion or FusionSettings()
    reusable: dict[str, list[int]] = {}
    if previous is not None and previous.model == encoder.name and previous.dim == encoder.dim:
        for i, passage in enumerate(previous.passages):
            reusable.setdefault(passage.article_id, []).append(i)

    passages: list[Passage] = []
    rows: list[np.ndarray | None] = []
    to_encode: list[int] = []
    reused = 0
    for article in articles:
        old = previous.article_hashes.get(article.id) if previous is not None else None
        if old == article.content_hash and article.id in reusable:
            reused += 1
            for i in reusable[article.id]:
                passages.append(previous.passages[i])  # type: ignore[union-attr]
                rows.append(previous.vectors[i])  # type: ignore[union-attr]
            continue
        for passage in split_article(article):
            to_encode.append(len(passages))
            passages.append(passage)
            rows.append(None)

    encoded = encoder.encode([passages[i].embed_text for i in to_encode], show_progress=show_progress)
    for j, i in enumerate(to_encode):
        rows[i] = encoded[j]
    vectors = (
        np.vstack([r for r in rows if r is not None]).astype(np.float32)
        if rows
        else np.zeros((0, encoder.dim), dtype=np.float32)
    )
    head_started = time.perf_counter()
    question_head = fit_head(passages, vectors, head, articles)
    head_seconds = time.perf_counter() - head_started
    build_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    index = KBIndex(
        articles={a.id: a for a in articles},
        passages=passages,
        vectors=vectors,
        model=encoder.name,
        build_id=build_id,
        article_hashes={a.id: a.content_hash for a in articles},
        faiss_index=make_faiss_index(vectors, show_progress=show_progress),
        head=question_head,
        synonyms=dict(synonyms or {}),
    )
    oos = list(out_of_scope or [])
    if previous is not None and previous.oos_texts == oos and previous.oos_vectors is not None and reusable:
        oos_vectors = previous.oos_vectors
    else:
        oos_vectors = encoder.encode([index.normalize(t) for t in oos])
    index.oos_texts, index.oos_vectors = oos, oos_vectors
    calibration_started = time.perf_counter()
    if calibrate or previous is None or previous.calibration is None:
        index.calibration = calibrate_index(index, head, retrieval, fusion)
    else:  # publish fast with the previous fit; the caller refits right after
        index.calibration = previous.calibration
    report = BuildReport(
        build_id=build_id,
        articles=len(articles),
        passages=len(passages),
        reused_articles=reused,
        encoded_passages=len(to_encode),
        seconds=round(time.perf_counter() - started, 3),
        head_seconds=round(head_seconds, 3),
        calibration_seconds=round(time.perf_counter() - calibration_started, 3),
    )
    return index, report


def _questions(passages: Sequence[Passage]) -> list[int]:
    return [i for i, p in enumerate(passages) if p.kind == "question"]


def fit_head(
    passages: Sequence[Passage],
    vectors: np.ndarray,
    settings: HeadSettings | None,
    articles: Sequence[Article] = (),
    rows: Sequence[int] | None = None,
) -> QuestionHead | None:
    """The head over the example questions (``rows``: only these passages)."""
    rows = _questions(passages) if rows is None else list(rows)
    if not rows:
        return None
    return QuestionHead.fit(
        [passages[i].text for i in rows],
        [passages[i].article_id for i in rows],
        vectors[rows],
        settings,
        vocabulary_texts=[a.title for a in articles],
    )


def calibrate_index(
    index: KBIndex,
    head: HeadSettings | None,
    retrieval: RetrievalSettings,
    fusion: FusionSettings,
    *,
    k: int = 3,
    folds: int = CALIBRATION_FOLDS,
) -> Calibration:
    """Search every example question as if it were new, then fit the calibration.

    Its own passage is hidden from retrieval, and its head probabilities come from a head
    fitted on the other folds of the example questions (cross-fitting), so the features look
    like those of a customer's question the knowledge base has never seen.
    """
    rows = [i for i in _questions(index.passages) if index.rows_of(index.passages[i].article_id).size >= 2]
    out_of_fold: dict[int, tuple[QuestionHead | None, np.ndarray | None]] = {}
    if index.head is not None and rows:
        order = np.random.default_rng(0).permutation(len(rows))
        for fold in range(folds):
            held = [rows[i] for i in order[fold::folds]]
            held_set = set(held)
            fold_head = fit_head(
                index.passages,
                index.vectors,
                head,
                list(index.articles.values()),
                rows=[i for i in _questions(index.passages) if i not in held_set],
            )
            if fold_head is None:
                continue
            probabilities = fold_head.probabilities(
                index.vectors[held], [index.passages[i].text for i in held]
            )
            for i, row in enumerate(held):
                out_of_fold[row] = (fold_head, probabilities[i])

    in_scope = []
    for row in rows:
        passage = index.passages[row]
        fold_head, p = out_of_fold.get(row, (None, None))
        hits = rank(
            index,
            index.vectors[row],
            passage.text,
            retrieval,
            fusion,
            head=fold_head,
            head_probabilities=p,
            limit=k,
            exclude=row,
        )
        if hits:
            in_scope.append(
                (
                    features(hits),
                    hits[0].id == passage.article_id,
                    any(h.id == passage.article_id for h in hits[:k]),
                )
            )
    out_of_scope = []
    if index.oos_vectors is not None and len(index.oos_texts):
        read = [index.normalize(t) for t in index.oos_texts]
        p_oos = index.head.probabilities(index.oos_vectors, read) if index.head is not None else None
        for i, (text, vector) in enumerate(zip(read, index.oos_vectors, strict=True)):
            p = p_oos[i] if p_oos is not None else None
            hits = rank(
                index, vector, text, retrieval, fusion, head=index.head, head_probabilities=p, limit=k
            )
            if hits:
                out_of_scope.append(features(hits))
    return fit_calibration(in_scope, out_of_scope, k=k)


def build_from_source(
    source: Path,
    out: Path,
    encoder_factory: Callable[[], Encoder],
    *,
    out_of_scope: Path | None = None,
    vocabulary: Path | None = None,
    calibrate: bool = True,
    previous: KBIndex | None = None,
    show_progress: bool = False,
) -> BuildReport:
    """Validate ``source``, build incrementally against the live index in ``out``, publish.

    Raises :class:`~assistant.kb.articles.ArticleError` before touching ``out`` when any
    article is broken, so the last good index keeps serving.
    """
    articles = load_articles(source)
    synonyms = load_vocabulary(vocabulary)
    if previous is None and current_build(out) is not None:
        try:
            previous = load_index(out)
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable previous index in %s: %s", out, exc)
    oos = read_out_of_scope(out_of_scope) if out_of_scope else []
    index, report = build_index(
        articles,
        encoder_factory(),
        previous,
        out_of_scope=oos,
        synonyms=synonyms,
        calibrate=calibrate,
        show_progress=show_progress,
    )
    save_index(index, out)
    report.index = index
    return report
