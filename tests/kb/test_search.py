import json
import os
import subprocess
import sys

import pytest

from assistant.kb.search import ANSWER, CLARIFY, DECLINE, ArticleHit, DecisionSettings, KnowledgeBase
from tests.conftest import ROOT


def hit(article_id: str, score: float) -> ArticleHit:
    return ArticleHit(article_id, article_id, score, "", "body")


class TestDecision:
    kb = KnowledgeBase.__new__(KnowledgeBase)
    kb.settings = DecisionSettings(answer_above=0.6, decline_below=0.4, clarify_margin=0.05)

    def test_confident_and_clear_lead_answers(self):
        assert self.kb.decide([hit("a", 0.8), hit("b", 0.6)]) == ANSWER

    def test_close_runner_up_clarifies(self):
        assert self.kb.decide([hit("a", 0.8), hit("b", 0.78)]) == CLARIFY

    def test_middling_score_clarifies(self):
        assert self.kb.decide([hit("a", 0.5), hit("b", 0.3)]) == CLARIFY

    def test_nothing_close_declines(self):
        assert self.kb.decide([hit("a", 0.3)]) == DECLINE
        assert self.kb.decide([]) == DECLINE


def test_settings_are_validated():
    with pytest.raises(ValueError):
        DecisionSettings(answer_above=0.4, decline_below=0.6)
    with pytest.raises(ValueError):
        DecisionSettings(clarify_options=1)


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
