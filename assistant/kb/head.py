"""A classifier head learned from the editors' example questions.

Nearest-example search only matches wording an editor wrote; a classifier learns which parts of
a question decide its article. The head is a multinomial logistic regression over two views of
each example question:
- its sentence vector (the same encoder as the index), for meaning;
- character n-grams (TF-IDF over 2-4 character windows inside words), for wording that the
  encoder splits badly: typos, codes, slang spelled many ways.

It is refitted at every build, in about a second for a few thousand examples, so an example an
editor adds counts at once. An article with no example questions is left to retrieval.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class HeadSettings:
    c: float = 16.0  # inverse regularisation strength
    char_weight: float = 0.5  # weight of the character n-gram view next to the sentence vector
    ngram_min: int = 2
    ngram_max: int = 4
    min_articles: int = 2  # below this many articles with examples there is nothing to learn

    def __post_init__(self) -> None:
        if self.c <= 0 or self.char_weight < 0:
            raise ValueError("head c must be positive and char_weight not negative")
        if not 1 <= self.ngram_min <= self.ngram_max <= 6:
            raise ValueError("head n-grams need 1 <= ngram_min <= ngram_max <= 6")
        if self.min_articles < 2:
            raise ValueError("head min_articles must be at least 2")


class QuestionHead:
    """P(article | question) for the articles that have example questions."""

    def __init__(
        self, settings: HeadSettings, labels: list[str], coef: np.ndarray, intercept: np.ndarray, chars: Any
    ):
        self.settings = settings
        self.labels = labels
        self.position = {label: i for i, label in enumerate(labels)}
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)  # (labels, dim + n-grams)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.chars = chars  # a fitted TfidfVectorizer, or None when char_weight is 0
        self._dim = self.coef.shape[1] - (len(chars.vocabulary_) if chars is not None else 0)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        vectors: np.ndarray,
        settings: HeadSettings | None = None,
        *,
        vocabulary_texts: Sequence[str] = (),
    ) -> QuestionHead | None:
        """None when fewer than ``min_articles`` articles have examples."""
        settings = settings or HeadSettings()
        if len(set(labels)) < settings.min_articles:
            return None
        from sklearn.linear_model import LogisticRegression

        chars = None
        if settings.char_weight > 0:
            chars = _char_ngrams(settings).fit([*texts, *vocabulary_texts])
        x = _features(np.asarray(vectors, dtype=np.float32), texts, chars, settings.char_weight)
        model = LogisticRegression(C=settings.c, max_iter=3000)
        model.fit(x, list(labels))
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # two classes: scikit-learn keeps one row; make it symmetric
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(settings, [str(c) for c in model.classes_], coef, intercept, chars)

    def probabilities(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """One row per question, one column per label (``self.labels``), rows sum to 1."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        logits = vectors @ self.coef[:, : self._dim].T + self.intercept
        if self.chars is not None:
            grams = self.chars.transform(list(texts))
            logits = logits + self.settings.char_weight * np.asarray(grams @ self.coef[:, self._dim :].T)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    # ---- storage: arrays in one .npz, the n-gram vocabulary and idf beside them in JSON

    def save(self, folder: Path) -> None:
        chars: dict[str, Any] | None = None
        arrays = {"coef": self.coef, "intercept": self.intercept}
        if self.chars is not None:
            vocabulary = sorted(self.chars.vocabulary_, key=self.chars.vocabulary_.__getitem__)
            chars = {"vocabulary": vocabulary}
            arrays["idf"] = self.chars.idf_.astype(np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        (folder / "head.npz").write_bytes(buffer.getvalue())
        meta = {"settings": asdict(self.settings), "labels": self.labels, "chars": chars}
        (folder / "head.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> QuestionHead | None:
        if not (folder / "head.json").is_file():
            return None
        meta = json.loads((folder / "head.json").read_text(encoding="utf-8"))
        arrays = np.load(folder / "head.npz")
        settings = HeadSettings(**meta["settings"])
        chars = None
        if meta["chars"] is not None:
            vocabulary = {term: i for i, term in enumerate(meta["chars"]["vocabulary"])}
            chars = _char_ngrams(settings, vocabulary)
            chars.idf_ = arrays["idf"]
        return cls(settings, list(meta["labels"]), arrays["coef"], arrays["intercept"], chars)


def _char_ngrams(settings: HeadSettings, vocabulary: dict[str, int] | None = None) -> Any:
    """TF-IDF over character n-grams inside word boundaries (fitted, or with a saved vocabulary)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(settings.ngram_min, settings.ngram_max),
        sublinear_tf=True,
        lowercase=True,
        dtype=np.float32,
        vocabulary=vocabulary,
    )


def _features(vectors: np.ndarray, texts: Sequence[str], chars: Any, weight: float) -> Any:
    if chars is None:
        return vectors
    from scipy import sparse

    grams = chars.transform(list(texts)) * weight
    return sparse.hstack([sparse.csr_matrix(vectors), grams], format="csr")
