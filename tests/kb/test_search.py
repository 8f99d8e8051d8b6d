import json
import os
import subprocess
import sys

import pytest

from assistant.kb.calibrate import Calibration, features
from assistant.kb.ranking import ArticleHit, RetrievalSettings
from assistant.kb.search import (
    ANSWER,
    CLARIFY,
    DECLINE,
    DecisionSettings,
    KnowledgeBase,
)
from tests.conftest import ROOT


def hit(article_id: str, score: float, dense: float | None = None, lexical: float = 0.0) -> ArticleHit:
    return ArticleHit(article_id, article_id, score, "", "body", score if dense is None else dense, lexical)


class TestDecision:
    kb = KnowledgeBase.__new__(KnowledgeBase)
    kb.settings = DecisionSettings(answer_at=0.6, clarify_at=0.45)
    kb.calibration = Calibration.default()

    def test_confident_and_clear_lead_answers(self):
        decision, confidence, coverage = self.kb.decide([hit("a", 0.8), hit("b", 0.6), hit("c", 0.5)])
        assert decision == ANSWER and confidence >= 0.6 and coverage >= confidence

    def test_close_runner_up_clarifies(self):
        assert self.kb.decide([hit("a", 0.8), hit("b", 0.79), hit("c", 0.7)])[0] == CLARIFY

    def test_nothing_close_declines(self):
        assert self.kb.decide([hit("a", 0.3), hit("b", 0.1), hit("c", 0.05)])[0] == DECLINE
        assert self.kb.decide([]) == (DECLINE, 0.0, 0.0)


def test_settings_are_validated():
    with pytest.raises(ValueError):
        DecisionSettings(answer_at=1.5)
    with pytest.raises(ValueError):
        DecisionSettings(clarify_options=1)
    with pytest.raises(ValueError):
        RetrievalSettings(max_weight=2)


def test_calibration_round_trip_and_monotonic_in_score(tmp_path):
    calibration = Calibration.default()
    path = tmp_path / "calibration.json"
    calibration.save(path)
    assert Calibration.load(path) == calibration
    low = features([hit("a", 0.3), hit("b", 0.2), hit("c", 0.1)])
    high = features([hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)])
    assert calibration.p_top1(high) > calibration.p_top1(low)


def test_demo_calibration_was_fitted(demo_kb):
    assert demo_kb.calibration.fitted
    report = demo_kb.calibration.report
    assert report["in_scope_examples"] > 500 and report["out_of_scope_examples"] > 300
    assert 0.5 < report["as_if_new_top1"] <= report["as_if_new_top3"] <= 1


def test_lexical_matching_finds_rare_words(article_dir, tmp_path, encoder):
    from assistant.kb.build import build_from_source
    from assistant.kb.index import load_index

    (article_dir / "codes.md").write_text(
        "---\nid: error_codes\ntitle: App error messages\ncategory: App\n---\n"
        "Error KX-4471 means your session expired: log in again.\n"
    )
    build_from_source(article_dir, tmp_path / "i", lambda: encoder)
    kb = KnowledgeBase(load_index(tmp_path / "i"), encoder)
    best = kb.rank("what is KX-4471")[0]
    assert best.id == "error_codes" and best.lexical > 0


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("my new card still hasn't shown up in the post", "card_arrival"),
        ("someone stole my card", "lost_or_stolen_card"),
        ("how do I change my PIN?", "change_pin"),
        ("What does the Premium plan cost per month?", "plans_and_fees"),
    ],
)
def test_demo_kb_answers_banking_questions(demo_kb, question, article):
    result = demo_kb.search(question)
    assert result.best.id == article
    assert result.decision in (ANSWER, CLARIFY)


@pytest.mark.parametrize(
    "question",
    ["what's the weather on mars", "recommend me a pizza recipe", "who won the football last night"],
)
def test_demo_kb_declines_what_it_cannot_answer(demo_kb, question):
    assert demo_kb.search(question).decision == DECLINE


def test_search_result_json_shape(demo_kb):
    data = demo_kb.search("I lost my card").to_dict()
    assert set(data) == {"question", "decision", "articles"}
    assert data["articles"][0] == {"id": "lost_or_stolen_card", "score": data["articles"][0]["score"]}
    scores = [a["score"] for a in data["articles"]]
    assert scores == sorted(scores, reverse=True)


def test_cli_search_json_single_and_stdin(tmp_path, encoder):
    env = {**os.environ, "ASSISTANT_KB_INDEX": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "kb", "build"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    one = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "kb", "search", "I lost my card", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0, one.stderr
    data = json.loads(one.stdout)
    assert data["question"] == "I lost my card"
    assert data["decision"] in ("answer", "clarify", "decline")
    assert data["articles"][0]["id"] == "lost_or_stolen_card"

    many = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "kb", "search", "--json"],
        cwd=ROOT,
        env=env,
        input="I lost my card\n\nwhat is the weather on mars\n",
        capture_output=True,
        text=True,
    )
    lines = [json.loads(line) for line in many.stdout.splitlines()]
    assert [d["question"] for d in lines] == ["I lost my card", "what is the weather on mars"]
    assert lines[1]["decision"] == "decline"


def test_single_question_path_matches_batch_encoding(encoder):
    import numpy as np

    texts = [f"question number {i} about my card" for i in range(10)]
    batch = encoder.encode(texts)  # the batched path
    single = np.vstack([encoder.encode([t]) for t in texts])  # the direct path
    assert np.allclose(batch, single, atol=1e-5)
