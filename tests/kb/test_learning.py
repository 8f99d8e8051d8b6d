"""The learned and forgiving parts of the knowledge base: the head, the spelling and vocabulary
reader, fusion, and the int8 encoder against the full-precision one."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.kb.head import HeadSettings, QuestionHead
from assistant.kb.ranking import FusionSettings
from assistant.kb.spelling import QueryNormalizer, SpellingSettings, VocabularyError, load_vocabulary
from tests.conftest import ROOT

QUESTIONS = {
    "lost": ["I lost my card", "my card is gone", "can't find my card anywhere", "misplaced my card"],
    "fees": ["how much does it cost", "what are your fees", "is there a monthly charge", "price of the plan"],
    "pin": ["change my PIN", "I want a new PIN", "how do I set another PIN", "update my PIN number"],
}


@pytest.fixture(scope="module")
def head(encoder) -> QuestionHead:
    texts = [t for qs in QUESTIONS.values() for t in qs]
    labels = [label for label, qs in QUESTIONS.items() for _ in qs]
    fitted = QuestionHead.fit(texts, labels, encoder.encode(texts))
    assert fitted is not None
    return fitted


def test_the_head_learns_articles_from_example_questions(head, encoder):
    questions = ["where has my card gone, I can't find it", "what is the price per month", "new PIN please"]
    p = head.probabilities(encoder.encode(questions), questions)
    assert p.shape == (3, 3) and np.allclose(p.sum(axis=1), 1)
    assert [head.labels[i] for i in p.argmax(axis=1)] == ["lost", "fees", "pin"]


def test_the_head_round_trips_through_its_files(head, encoder, tmp_path):
    head.save(tmp_path)
    loaded = QuestionHead.load(tmp_path)
    assert loaded is not None and loaded.labels == head.labels
    q = ["I lost my card yesterday"]
    v = encoder.encode(q)
    assert np.allclose(loaded.probabilities(v, q), head.probabilities(v, q), atol=1e-6)
    assert QuestionHead.load(tmp_path / "nothing") is None


def test_no_head_without_two_articles_with_examples(encoder):
    assert QuestionHead.fit(["only one"], ["a"], encoder.encode(["only one"])) is None


def test_head_and_fusion_settings_are_validated():
    with pytest.raises(ValueError):
        HeadSettings(c=0)
    with pytest.raises(ValueError):
        HeadSettings(ngram_min=3, ngram_max=2)
    with pytest.raises(ValueError):
        FusionSettings(head_weight=-1)


# ---- reading the question ----------------------------------------------------------------


@pytest.fixture(scope="module")
def reader() -> QueryNormalizer:
    kb = [
        "Your card was stolen? Freeze it in the app.",
        "Transfers arrive within 2 working days.",
        "ATM fees",
    ]
    return QueryNormalizer(kb, {"hole in the wall": "ATM", "quid": "pounds", "nicked": "stolen"})


@pytest.mark.parametrize(
    ("question", "read_as"),
    [
        ("my crd was stollen", "my card was stolen"),
        ("my card got nicked", "my card got stolen"),
        ("the Hole  in the WALL kept it", "the ATM kept it"),
        ("sent 20 quid, tranfser not arived", "sent 20 pounds, transfer not arrived"),
        ("what is KX-4471?", "what is KX-4471?"),  # codes and numbers stay
        ("my brother is in Berlin", "my brother is in Berlin"),  # real words that the KB lacks stay
    ],
)
def test_questions_are_read_in_the_articles_words(reader, question, read_as):
    assert reader(question) == read_as


def test_spelling_can_be_switched_off():
    reader = QueryNormalizer(["card stolen"], {}, SpellingSettings(enabled=False))
    assert reader("my crd was stollen") == "my crd was stollen"


def test_the_shipped_vocabulary_loads_and_bad_files_say_where(tmp_path):
    synonyms = load_vocabulary(ROOT / "data" / "vocabulary.yml")
    assert synonyms["quid"] == "pounds" and synonyms["hole in the wall"] == "ATM"
    bad = tmp_path / "vocabulary.yml"
    bad.write_text("synonyms:\n  - quid\n")
    with pytest.raises(VocabularyError, match=r"vocabulary\.yml:1"):
        load_vocabulary(bad)
    bad.write_text("# slang\nsynonyms:\n  quid: pounds\n  fiver: [5]\n")
    with pytest.raises(VocabularyError, match=r"vocabulary\.yml:4: synonym 'fiver'"):
        load_vocabulary(bad)
    assert load_vocabulary(tmp_path / "missing.yml") == {}


# ---- the shipped knowledge base ------------------------------------------------------------


def test_the_demo_index_has_a_head_and_reads_typos(demo_kb):
    assert demo_kb.index.head is not None and len(demo_kb.index.head.labels) >= 77
    result = demo_kb.search("my crd was stollen")
    assert result.read_as == "my card was stolen"
    assert result.best.id == "lost_or_stolen_card" and result.best.head > 0.5
    assert result.to_dict(detail=True)["read_as"] == "my card was stolen"


def test_int8_encoder_matches_the_full_precision_model(encoder):
    from assistant.kb.encoder import SentenceTransformerEncoder

    texts = ["my card was stolen", "how long does a transfer take to arrive?", "what's the weather"]
    full = SentenceTransformerEncoder(threads=1).encode(texts)
    int8 = encoder.encode(texts)
    assert np.all(np.sum(full * int8, axis=1) > 0.99)
