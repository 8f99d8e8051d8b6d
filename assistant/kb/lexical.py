"""BM25 over passages, as a sparse matrix: product names, codes and rare words count.

Weights are precomputed per (passage, term), so scoring a query is one sparse column sum.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Very common function words carry no signal for matching and only add noise to short texts.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "i'm",
        "if",
        "in",
        "is",
        "it",
        "it's",
        "me",
        "my",
        "of",
        "on",
        "or",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def tokenize(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


@dataclass(frozen=True)
class BM25Settings:
    k1: float = 1.2
    b: float = 0.75

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1")


class BM25Index:
    def __init__(self, texts: Sequence[str], settings: BM25Settings | None = None):
        self.settings = settings or BM25Settings()
        docs = [Counter(tokenize(t)) for t in texts]
        self.vocab: dict[str, int] = {}
        for doc in docs:
            for term in doc:
                self.vocab.setdefault(term, len(self.vocab))
        n = len(docs)
        lengths = np.array([sum(d.values()) for d in docs], dtype=np.float32)
        avgdl = float(lengths.mean()) if n else 0.0
        df = np.zeros(len(self.vocab), dtype=np.float32)
        rows, cols, tfs = [], [], []
        for i, doc in enumerate(docs):
            for term, tf in doc.items():
                j = self.vocab[term]
                df[j] += 1
                rows.append(i)
                cols.append(j)
                tfs.append(tf)
        self.idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        k1, b = self.settings.k1, self.settings.b
        tf_arr = np.asarray(tfs, dtype=np.float32)
        dl = lengths[np.asarray(rows, dtype=np.int64)] if rows else np.zeros(0, dtype=np.float32)
        norm = k1 * (1 - b + b * dl / max(avgdl, 1e-9))
        weights = self.idf[np.asarray(cols, dtype=np.int64)] * tf_arr * (k1 + 1) / (tf_arr + norm)
        self.matrix = sparse.csc_matrix((weights, (rows, cols)), shape=(n, len(self.vocab)), dtype=np.float32)
        self.size = n

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no term is known)."""
        terms = [self.vocab[t] for t in tokenize(query) if t in self.vocab]
        if not terms or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        counts = Counter(terms)
        cols = list(counts)
        weights = np.array([counts[c] for c in cols], dtype=np.float32)
        return np.asarray(self.matrix[:, cols] @ weights).ravel()
