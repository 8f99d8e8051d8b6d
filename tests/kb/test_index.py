import json
from pathlib import Path

import numpy as np
import pytest

from assistant.kb.articles import ArticleError
from assistant.kb.build import build_from_source
from assistant.kb.index import current_build, load_index
from assistant.kb.live import LiveKnowledgeBase
from assistant.kb.search import ANSWER


class CountingEncoder:
    """The real encoder, counting how many texts it is asked to encode."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.calls = inner, inner.name, inner.dim, 0

    def encode(self, texts, *, show_progress=False):
        self.calls += len(texts)
        return self.inner.encode(texts)


def test_build_save_load_round_trip(article_dir: Path, tmp_path: Path, encoder):
    out = tmp_path / "index"
    report = build_from_source(article_dir, out, lambda: encoder)
    assert report.articles == 3 and report.reused_articles == 0
    index = load_index(out)
    assert set(index.articles) == {"card_arrival", "lost_or_stolen_card", "exchange_rate"}
    assert index.vectors.shape == (report.passages, encoder.dim)
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-4)
    manifest = json.loads((current_build(out) / "manifest.json").read_text())
    assert manifest["model"] == "all-MiniLM-L6-v2-int8" and set(manifest["articles"]) == set(index.articles)


def test_rebuild_reembeds_only_changed_articles(article_dir: Path, tmp_path: Path, encoder):
    out = tmp_path / "index"
    build_from_source(article_dir, out, lambda: encoder)
    path = article_dir / "exchange" / "exchange_rate.md"
    path.write_text(path.read_text().replace("1% markup", "1.5% markup"))
    counting = CountingEncoder(encoder)
    report = build_from_source(article_dir, out, lambda: counting)
    assert report.reused_articles == 2
    exchange_passages = [p for p in load_index(out).passages if p.article_id == "exchange_rate"]
    assert counting.calls == len(exchange_passages) == report.encoded_passages
    assert any("1.5% markup" in p.text for p in exchange_passages)


def test_broken_file_keeps_the_last_good_index(article_dir: Path, tmp_path: Path, encoder):
    out = tmp_path / "index"
    build_from_source(article_dir, out, lambda: encoder)
    good = current_build(out)
    (article_dir / "broken.md").write_text("---\nid: broken\ntitle: [oops\n---\nBody\n")
    with pytest.raises(ArticleError) as err:
        build_from_source(article_dir, out, lambda: encoder)
    assert str(article_dir / "broken.md") in str(err.value)
    assert current_build(out) == good
    assert len(load_index(out).articles) == 3


def test_live_knowledge_base_switches_to_a_new_build(article_dir: Path, tmp_path: Path, encoder):
    out = tmp_path / "index"
    build_from_source(article_dir, out, lambda: encoder)
    now = [0.0]
    live = LiveKnowledgeBase(out, encoder, check_every=1.0, clock=lambda: now[0])
    first = live.build_id
    question = "Do you support cashback on groceries?"
    assert live.get().search(question).best.id != "cashback"

    (article_dir / "cashback.md").write_text(
        "---\nid: cashback\ntitle: Cashback on groceries\ncategory: Rewards\n"
        "questions: ['Do you support cashback on groceries?']\n---\nYou get 1% cashback at supermarkets.\n"
    )
    build_from_source(article_dir, out, lambda: encoder)
    assert live.get().index.build_id == first  # not checked again yet
    now[0] = 1.5
    result = live.get().search(question)
    assert live.build_id != first
    assert result.decision == ANSWER and result.best.id == "cashback"
