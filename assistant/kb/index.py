"""The built knowledge-base index: build from articles, save, load.

Layout on disk (everything under ``kb_index/`` is derived and can be rebuilt)::

    kb_index/
      CURRENT                 name of the live build, switched atomically
      builds/<build-id>/
        manifest.json         model, dimension, article hashes, build time
        articles.json         the articles as served
        passages.jsonl        one passage per line, in vector order
        vectors.npy           float32 passage vectors (reused by incremental builds)
        index.faiss           the FAISS index over those vectors
        head.npz, head.json   the classifier head learned from the example questions
        calibration.json      ranking features -> probability of being right
        vocabulary.json       the editors' synonyms (customer wording -> article wording)

This module is storage only: :mod:`assistant.kb.build` makes an index, :mod:`assistant.kb.search`
answers from one.

A build writes a new folder and only then points ``CURRENT`` at it, so a reader always sees a
whole build, and a failed build leaves the last good one serving.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.kb.articles import Article
from assistant.kb.calibrate import Calibration
from assistant.kb.head import QuestionHead
from assistant.kb.lexical import BM25Index
from assistant.kb.passages import Passage
from assistant.kb.spelling import QueryNormalizer, SpellingSettings

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
KEEP_BUILDS = 2
# Exact search up to this many passages; HNSW (approximate, logarithmic) above it.
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512  # recall@10 0.955 at 1M synthetic passages, p95 1.5 ms (make bench-kb)


@dataclass
class KBIndex:
    """Articles, passages and their vectors, with a FAISS index over the vectors."""

    articles: dict[str, Article]
    passages: list[Passage]
    vectors: np.ndarray
    model: str
    build_id: str = ""
    article_hashes: dict[str, str] = field(default_factory=dict)
    faiss_index: Any = None
    calibration: Calibration | None = None
    oos_texts: list[str] = field(default_factory=list)  # out-of-scope questions the calibration saw
    oos_vectors: np.ndarray | None = None  # kept so a rebuild need not encode them again
    head: QuestionHead | None = None
    synonyms: dict[str, str] = field(default_factory=dict)
    spelling: SpellingSettings = field(default_factory=SpellingSettings)
    lexical: BM25Index = field(init=False)
    normalize: QueryNormalizer = field(init=False, repr=False)
    _rows: dict[str, np.ndarray] = field(init=False, repr=False)
    article_ids: list[str] = field(init=False, repr=False)
    padded_rows: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.faiss_index is None:
            self.faiss_index = make_faiss_index(self.vectors)
        self.lexical = BM25Index([p.embed_text for p in self.passages])
        self.normalize = QueryNormalizer(
            (text for a in self.articles.values() for text in (a.title, a.body, *a.questions)),
            self.synonyms,
            self.spelling,
        )
        rows: dict[str, list[int]] = {}
        for i, passage in enumerate(self.passages):
            rows.setdefault(passage.article_id, []).append(i)
        self._rows = {a: np.asarray(r, dtype=np.int64) for a, r in rows.items()}
        # Article x passage positions, padded with -1: lets a small index score every article
        # in a few vectorised operations.
        self.article_ids = list(self._rows)
        width = max((len(r) for r in self._rows.values()), default=1)
        self.padded_rows = np.full((len(self.article_ids), width), -1, dtype=np.int64)
        for i, article_id in enumerate(self.article_ids):
            r = self._rows[article_id]
            self.padded_rows[i, : len(r)] = r

    def rows_of(self, article_id: str) -> np.ndarray:
        """Positions of an article's passages (and vectors)."""
        return self._rows.get(article_id, np.zeros(0, dtype=np.int64))

    @property
    def index_type(self) -> str:
        return index_type_for(len(self.passages))

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def search_vectors(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k passages by inner product (cosine on normalised vectors)."""
        k = max(1, min(k, len(self.passages)))
        scores, ids = self.faiss_index.search(np.atleast_2d(query).astype(np.float32), k)
        return scores, ids


def index_type_for(n: int, threshold: int = HNSW_THRESHOLD) -> str:
    return "hnsw-ip" if n > threshold else "flat-ip"


def make_faiss_index(
    vectors: np.ndarray, *, threshold: int = HNSW_THRESHOLD, show_progress: bool = False
) -> Any:
    """Exact inner-product search for small collections, HNSW above ``threshold`` passages."""
    import faiss

    dim = int(vectors.shape[1])
    if index_type_for(len(vectors), threshold) == "flat-ip":
        flat = faiss.IndexFlatIP(dim)
        if len(vectors):
            flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return flat
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    chunk = 50_000
    from tqdm import tqdm

    with tqdm(total=len(vectors), desc="HNSW index", unit="vec", disable=not show_progress) as bar:
        for start in range(0, len(vectors), chunk):
            part = vectors[start : start + chunk]
            index.add(np.ascontiguousarray(part, dtype=np.float32))
            bar.update(len(part))
    return index


# --------------------------------------------------------------------------- save / load


def current_build(root: Path) -> Path | None:
    pointer = Path(root) / "CURRENT"
    if not pointer.is_file():
        return None
    build = Path(root) / "builds" / pointer.read_text(encoding="utf-8").strip()
    return build if build.is_dir() else None


def save_index(index: KBIndex, root: Path) -> Path:
    import faiss

    root = Path(root)
    build = root / "builds" / index.build_id
    build.mkdir(parents=True, exist_ok=False)
    manifest = {
        "format": FORMAT_VERSION,
        "build_id": index.build_id,
        "model": index.model,
        "dim": index.dim,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "articles": index.article_hashes,
        "passages": len(index.passages),
        "index_type": index.index_type,
    }
    (build / "articles.json").write_text(
        json.dumps([a.to_dict() for a in index.articles.values()], ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    with (build / "passages.jsonl").open("w", encoding="utf-8") as f:
        for passage in index.passages:
            f.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
    np.save(build / "vectors.npy", index.vectors)
    faiss.write_index(index.faiss_index, str(build / "index.faiss"))
    if index.calibration is not None:
        index.calibration.save(build / "calibration.json")
    if index.head is not None:
        index.head.save(build)
    (build / "vocabulary.json").write_text(json.dumps(index.synonyms, ensure_ascii=False), encoding="utf-8")
    if index.oos_vectors is not None:
        (build / "out_of_scope.json").write_text(
            json.dumps(index.oos_texts, ensure_ascii=False), encoding="utf-8"
        )
        np.save(build / "out_of_scope.npy", index.oos_vectors)
    (build / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")

    tmp_pointer = root / f"CURRENT.{uuid.uuid4().hex}.tmp"
    tmp_pointer.write_text(index.build_id + "\n", encoding="utf-8")
    os.replace(tmp_pointer, root / "CURRENT")  # atomic switch to the new build
    _prune_builds(root, keep=index.build_id)
    return build


def _prune_builds(root: Path, keep: str) -> None:
    builds = sorted((root / "builds").iterdir(), key=lambda p: p.name, reverse=True)
    old = [b for b in builds if b.name != keep][KEEP_BUILDS - 1 :]
    for build in old:
        shutil.rmtree(build, ignore_errors=True)
    _prune_encoders(root)


def _prune_encoders(root: Path, min_age_seconds: float = 86_400) -> None:
    """Tuned encoders that no kept build uses, once a day old (a newer one may still be on
    its way into a build)."""
    folder = root / "encoders"
    if not folder.is_dir():
        return
    used = set()
    for manifest in (root / "builds").glob("*/manifest.json"):
        try:
            used.add(json.loads(manifest.read_text(encoding="utf-8"))["model"])
        except (OSError, ValueError, KeyError):
            return  # unsure what is in use: keep everything
    now = time.time()
    for encoder in folder.iterdir():
        if encoder.name not in used and now - encoder.stat().st_mtime > min_age_seconds:
            shutil.rmtree(encoder, ignore_errors=True)


def load_index(root: Path) -> KBIndex:
    import faiss

    build = current_build(root)
    if build is None:
        raise FileNotFoundError(f"no knowledge-base index in {root}: run `assistant kb build`")
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise ValueError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}: rebuild it")
    articles = [
        Article.from_dict(d) for d in json.loads((build / "articles.json").read_text(encoding="utf-8"))
    ]
    with (build / "passages.jsonl").open(encoding="utf-8") as f:
        passages = [Passage.from_dict(json.loads(line)) for line in f if line.strip()]
    vectors = np.load(build / "vectors.npy")
    faiss_index = faiss.read_index(str(build / "index.faiss"))
    if hasattr(faiss_index, "hnsw"):
        faiss_index.hnsw.efSearch = HNSW_EF_SEARCH
    return KBIndex(
        articles={a.id: a for a in articles},
        passages=passages,
        vectors=vectors,
        model=manifest["model"],
        build_id=manifest["build_id"],
        article_hashes=manifest["articles"],
        faiss_index=faiss_index,
        calibration=Calibration.load(build / "calibration.json"),
        oos_texts=json.loads((build / "out_of_scope.json").read_text(encoding="utf-8"))
        if (build / "out_of_scope.json").is_file()
        else [],
        oos_vectors=np.load(build / "out_of_scope.npy") if (build / "out_of_scope.npy").is_file() else None,
        head=QuestionHead.load(build),
        synonyms=json.loads((build / "vocabulary.json").read_text(encoding="utf-8"))
        if (build / "vocabulary.json").is_file()
        else {},
    )
