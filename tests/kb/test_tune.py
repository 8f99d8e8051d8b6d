"""Tuning the encoder on the example questions: trained once per set of examples, exported as
int8 ONNX next to the index, and served by the live knowledge base for builds made with it."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.kb.articles import Article
from assistant.kb.build import build_index
from assistant.kb.index import save_index
from assistant.kb.live import LiveKnowledgeBase
from assistant.kb.tune import TuneSettings, load_tuned, tune_encoder

TOPICS = {
    "card_declined": [
        "my card payment was declined",
        "the shop refused my card",
        "card got rejected at the till",
    ],
    "transfer_declined": [
        "my transfer was declined",
        "bank transfer got rejected",
        "couldn't send money, refused",
    ],
    "lost_card": ["I lost my card", "my card is missing", "can't find my card anywhere"],
    "fees": ["what are your fees", "how much does the plan cost", "monthly charge?"],
}
FAST = TuneSettings(steps=4, articles_per_batch=4)


def articles(extra: str = "") -> list[Article]:
    return [
        Article(
            id=a,
            title=a.replace("_", " "),
            category="Test",
            body=f"About {a}.",
            questions=(*qs, *([extra] if extra and a == "fees" else [])),
        )
        for a, qs in TOPICS.items()
    ]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("tuned_index")
    folder = tune_encoder(articles(), root, FAST, threads=1)
    assert folder is not None
    return root, folder


def test_a_tuned_encoder_is_saved_and_loads(tuned, encoder):
    _root, folder = tuned
    assert {"model.onnx", "tokenizer.json", "encoder.json"} <= {p.name for p in folder.iterdir()}
    model = load_tuned(folder)
    assert model.name == folder.name and model.dim == encoder.dim
    vectors = model.encode(["my card was declined", "what are your fees"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    base = encoder.encode(["my card was declined"])
    assert float(vectors[0] @ base[0]) < 0.9999  # the weights moved


def test_the_same_examples_are_not_tuned_twice(tuned):
    root, folder = tuned
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert tune_encoder(articles(), root, FAST, threads=1) == folder
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp
    other = tune_encoder(articles("is there a fee for this"), root, FAST, threads=1)
    assert other is not None and other != folder


def test_too_few_examples_keep_the_base_model(tmp_path):
    few = [Article(id="a", title="A", category="T", body="a", questions=("one", "two"))]
    assert tune_encoder(few, tmp_path, FAST) is None


def test_the_live_knowledge_base_serves_a_build_with_its_tuned_encoder(tuned, encoder):
    root, folder = tuned
    model = load_tuned(folder)
    index, _ = build_index(articles(), model, calibrate=False)
    assert index.model == folder.name
    save_index(index, root)
    live = LiveKnowledgeBase(root, encoder)
    kb = live.get()
    assert kb.encoder.name == folder.name
    assert kb.search("the shop refused my card").best.id == "card_declined"
