"""Fine-tune the sentence encoder on the editors' example questions, then serve it as int8 ONNX.

A general-purpose encoder places "my card payment was declined" and "my transfer was declined"
close together; a bank's knowledge base needs them apart. Contrastive fine-tuning (as in
SetFit) teaches this from the example questions alone: in each step it takes pairs of example
questions of the same article from a group of articles that the current encoder confuses, and
pulls each pair together while pushing it away from the other articles' questions
(in-batch negatives, multiple-negatives ranking loss).

The tuned model is exported to ONNX with int8 weights (per channel, matrix multiplications
only: no measurable loss, and about twice as fast as the base int8 model) into
``kb_index/encoders/<name>/``, named by a hash of the examples and the settings, so the same
examples never train twice. Building with it re-encodes every passage; an index records the
encoder it was built with, and :class:`~assistant.kb.live.LiveKnowledgeBase` loads that one.

Torch and sentence-transformers are needed only here, at build time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.kb.articles import Article
from assistant.kb.encoder import OnnxEncoder, bundled_model_path

logger = logging.getLogger(__name__)

TUNED_PREFIX = "minilm-tuned-"


@dataclass(frozen=True)
class TuneSettings:
    steps: int = 300
    articles_per_batch: int = 16  # each step: this many articles, two example questions each
    learning_rate: float = 2e-5
    scale: float = 20.0  # similarity scale in the loss
    seed: int = 0
    min_articles: int = 4  # articles with at least two examples needed to tune at all

    def __post_init__(self) -> None:
        if self.steps < 1 or self.articles_per_batch < 2 or self.learning_rate <= 0 or self.scale <= 0:
            raise ValueError("tuning needs steps >= 1, articles_per_batch >= 2 and positive rates")
        if self.min_articles < 2:
            raise ValueError("tuning min_articles must be at least 2")


def examples(articles: Sequence[Article]) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for article in articles:
        for question in article.questions:
            texts.append(question)
            labels.append(article.id)
    return texts, labels


def tuned_name(texts: Sequence[str], labels: Sequence[str], settings: TuneSettings) -> str:
    payload = json.dumps([sorted(zip(labels, texts, strict=True)), asdict(settings)], ensure_ascii=False)
    return TUNED_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def encoder_folder(index_root: Path, name: str) -> Path:
    return Path(index_root) / "encoders" / name


def encoder_for(index_root: Path, model: str, base: Any, *, threads: int = 1) -> Any:
    """The encoder a build was made with: ``base``, or the tuned one stored beside the index
    (FileNotFoundError when that one is gone)."""
    if model == base.name:
        return base
    return load_tuned(encoder_folder(index_root, model), threads=threads)


def load_tuned(folder: Path, *, threads: int = 1) -> OnnxEncoder:
    meta = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    return OnnxEncoder(folder / "model.onnx", folder / "tokenizer.json", threads=threads, name=meta["name"])


def tune_encoder(
    articles: Sequence[Article],
    index_root: Path,
    settings: TuneSettings | None = None,
    *,
    threads: int | None = None,
) -> Path | None:
    """The folder of the encoder tuned on ``articles``' example questions (trained now unless
    the same examples were tuned before). None when there are too few examples to learn from."""
    settings = settings or TuneSettings()
    texts, labels = examples(articles)
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    if sum(1 for n in counts.values() if n >= 2) < settings.min_articles:
        logger.info("too few example questions to tune the encoder: using the base model")
        return None
    name = tuned_name(texts, labels, settings)
    folder = encoder_folder(index_root, name)
    if (folder / "encoder.json").is_file():
        return folder
    started = time.perf_counter()
    work = folder.parent / f".{name}.{uuid.uuid4().hex[:6]}.tmp"
    work.mkdir(parents=True)
    try:
        model = _train(texts, labels, settings, threads or os.cpu_count() or 1)
        _export(model, work)
        shutil.copy(bundled_model_path() / "tokenizer.json", work / "tokenizer.json")
        meta = {
            "name": name,
            "base": "all-MiniLM-L6-v2",
            "examples": len(texts),
            "articles": len(counts),
            "settings": asdict(settings),
            "seconds": round(time.perf_counter() - started, 1),
        }
        (work / "encoder.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if folder.exists():  # another build finished the same tuning first
            shutil.rmtree(work, ignore_errors=True)
        else:
            os.replace(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    logger.info("encoder tuned on %d example questions in %.0fs: %s", len(texts), meta["seconds"], name)
    return folder


def _train(texts: list[str], labels: list[str], settings: TuneSettings, threads: int) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(max(1, threads))
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    model = SentenceTransformer(str(bundled_model_path()), device="cpu")
    by_article: dict[str, list[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        by_article.setdefault(label, []).append(text)
    usable = sorted(a for a, qs in by_article.items() if len(qs) >= 2)
    per_batch = min(settings.articles_per_batch, len(usable))

    # Confusable articles: nearest centroids of their questions under the base model.
    vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
    centroids = np.stack([vectors[[i for i, y in enumerate(labels) if y == a]].mean(axis=0) for a in usable])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    similar = centroids @ centroids.T
    neighbours = {
        a: [usable[j] for j in np.argsort(-similar[i])[1 : 2 * per_batch]] for i, a in enumerate(usable)
    }

    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    warmup = max(1, settings.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (settings.steps - s) / settings.steps)
    )
    model.train()
    for _ in range(settings.steps):
        seed_article = rng.choice(usable)
        pool = [seed_article, *neighbours[seed_article]]
        chosen = rng.sample(pool, min(per_batch, len(pool)))
        pairs = [rng.sample(by_article[a], 2) for a in chosen]
        features = model.preprocess([p[0] for p in pairs] + [p[1] for p in pairs])
        embedded = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)
        anchors, positives = embedded[: len(pairs)], embedded[len(pairs) :]
        logits = anchors @ positives.T * settings.scale
        target = torch.arange(len(pairs))
        loss = (
            torch.nn.functional.cross_entropy(logits, target)
            + torch.nn.functional.cross_entropy(logits.T, target)
        ) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    return model


def _export(model: Any, folder: Path) -> None:
    """The transformer to ONNX (token embeddings out; pooling is the encoder's), then int8."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Transformer(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch.ones(2, 8, dtype=torch.long)
    full = folder / "model.fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(
            Transformer(model[0].auto_model.eval()),
            (example, example, torch.zeros_like(example)),
            str(full),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(
        str(full),
        str(folder / "model.onnx"),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
    )
    full.unlink()
