"""Knowledge-base regression tests (assistant/kb/regression.py): the file and its file:line
problems, appending a test without touching the rest of the file, running the tests against a
real index (the MiniLM encoder, three articles), and deciding them again at other thresholds
without searching again."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from assistant.kb.articles import ArticleError
from assistant.kb.regression import (
    DuplicateQuestion,
    InvalidTest,
    add_test,
    judge,
    load_suite,
    parse_suite,
    rank_question,
    rank_suite,
    run_suite,
    summary,
    what_if,
)
from assistant.kb.search import DecisionSettings, KnowledgeBase

IDS = {"card_arrival", "lost_or_stolen_card", "exchange_rate"}

SUITE = """\
# Knowledge-base regression tests: a question and the article that must answer it (or decline).
tests:
  - question: "my new card still hasn't come in the post"
    expect: card_arrival          # the answer must be this article
  - question: someone took my card
    expect: lost_or_stolen_card

  # off topic
  - question: "what is the weather on mars"
    expect: decline
  - question: "my card"
    expect: card_arrival
    allow: clarify
"""


def write(tmp_path: Path, text: str, name: str = "kb_tests.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(text: str, ids=IDS) -> list[str]:
    with pytest.raises(ArticleError) as caught:
        parse_suite(textwrap.dedent(text), "kb_tests.yml", ids)
    return [str(p) for p in caught.value.problems]


@pytest.fixture(scope="module")
def small_kb(encoder, small_index) -> KnowledgeBase:
    """A real index of the three articles of tests/conftest.py (default calibration)."""
    from assistant.kb.index import load_index

    return KnowledgeBase(load_index(small_index), encoder)


# ---------------------------------------------------------------- the file


def test_a_suite_is_read_with_the_line_of_each_test(tmp_path):
    suite = load_suite(write(tmp_path, SUITE), IDS)
    assert [(t.question, t.expect, t.line, t.allow_clarify) for t in suite.tests] == [
        ("my new card still hasn't come in the post", "card_arrival", 3, False),
        ("someone took my card", "lost_or_stolen_card", 5, False),
        ("what is the weather on mars", "decline", 9, False),
        ("my card", "card_arrival", 11, True),
    ]
    assert suite.path == str(tmp_path / "kb_tests.yml")
    assert load_suite(write(tmp_path, SUITE), IDS, shown="data/kb_tests.yml").path == "data/kb_tests.yml"


def test_an_empty_file_is_an_empty_suite_and_a_missing_one_a_problem(tmp_path):
    assert len(load_suite(write(tmp_path, "# nothing yet\n"), IDS)) == 0
    with pytest.raises(ArticleError) as caught:
        load_suite(tmp_path / "absent.yml", IDS, shown="data/kb_tests.yml")
    assert str(caught.value.problems[0]).startswith("data/kb_tests.yml:1: cannot read")


def test_unknown_articles_duplicates_and_missing_keys_are_named_by_line():
    found = problems(
        """\
        tests:
          - question: how do I freeze my card
            expect: freeze_card
          - question: "Someone took my card"
            expect: lost_or_stolen_card
          - question: "someone   took my CARD"
            expect: card_arrival
          - expect: decline
          - question: where is my card
          - question: when will it come
            expect: card_arrival
            allow: answer
          - question: weather on mars
            expect: decline
            allow: clarify
          - question: a rate
            expect: exchange_rate
            because: it says so
          - just a string
        """
    )
    assert found == [
        "kb_tests.yml:3: expected article 'freeze_card' does not exist",
        "kb_tests.yml:6: duplicate question 'someone took my CARD', also on line 4",
        "kb_tests.yml:8: a test is missing 'question'",
        "kb_tests.yml:9: a test is missing 'expect'",
        "kb_tests.yml:12: 'allow' may only be 'clarify', not 'answer'",
        "kb_tests.yml:15: 'allow: clarify' needs an expected article, not decline",
        "kb_tests.yml:18: unknown key 'because' in a test",
        "kb_tests.yml:19: a test must be a mapping",
    ]


def test_the_shape_of_the_file_and_its_yaml_are_checked():
    assert problems("tests: {a: 1}\n") == ["kb_tests.yml:1: 'tests' must be a list of tests"]
    assert problems("- question: a\n") == ["kb_tests.yml:1: the file must be a mapping"]
    assert problems("tests: []\nother: 1\n") == ["kb_tests.yml:2: unknown key 'other' in the file"]
    assert problems("tests:\n  - question: a\n    expect: decline\n  - : : :\n")[0].startswith(
        "kb_tests.yml:4: invalid YAML: "
    )
    long = "x" * 501
    assert problems(f"tests:\n  - question: {long}\n    expect: decline\n") == [
        "kb_tests.yml:2: question is longer than 500 characters"
    ]


def test_article_ids_are_not_checked_when_none_are_given():
    suite = parse_suite("tests:\n  - question: a\n    expect: gone_article\n", "f.yml", None)
    assert suite.tests[0].expect == "gone_article"


# ---------------------------------------------------------------- adding a test


def test_add_test_appends_and_keeps_every_comment_and_line(tmp_path):
    path = write(tmp_path, SUITE)
    before = path.read_text(encoding="utf-8")
    test = add_test(path, "  where is   my card? ", "card_arrival", IDS)
    after = path.read_text(encoding="utf-8")
    assert after.startswith(before)  # nothing rewritten: comments, blank lines, quoting kept
    assert after[len(before) :] == '  - question: "where is my card?"\n    expect: card_arrival\n'
    assert test.question == "where is my card?" and test.line == len(before.splitlines()) + 1
    suite = load_suite(path, IDS)
    assert (suite.tests[-1].question, suite.tests[-1].line) == ("where is my card?", test.line)
    assert len(suite) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["kb_tests.yml"]  # no temporary file left


def test_add_test_refuses_a_duplicate_question_and_leaves_the_file_alone(tmp_path):
    path = write(tmp_path, SUITE)
    before = path.read_text(encoding="utf-8")
    with pytest.raises(DuplicateQuestion, match="line 5"):
        add_test(path, "Someone  took my CARD", "card_arrival", IDS)
    with pytest.raises(InvalidTest, match="no article 'freeze_card'"):
        add_test(path, "how do I freeze my card", "freeze_card", IDS)
    with pytest.raises(InvalidTest, match="empty"):
        add_test(path, "   ", "decline", IDS)
    with pytest.raises(InvalidTest, match="500"):
        add_test(path, "x" * 501, "decline", IDS)
    with pytest.raises(InvalidTest, match="decline"):
        add_test(path, "weather", "decline", IDS, allow_clarify=True)
    assert path.read_text(encoding="utf-8") == before


def test_add_test_refuses_to_touch_a_file_with_problems(tmp_path):
    path = write(tmp_path, "tests:\n  - question: a\n")
    with pytest.raises(ArticleError, match="missing 'expect'"):
        add_test(path, "b", "decline", IDS)
    assert path.read_text(encoding="utf-8") == "tests:\n  - question: a\n"


@pytest.mark.parametrize(
    "question",
    [
        'it says "card: blocked" # why',
        "- a dash first",
        "yes",
        "null",
        "100",
        "ünïcødé £5 card?",
        "a \\ backslash and a 'quote'",
        "[not a list]",
    ],
)
def test_added_questions_read_back_exactly(tmp_path, question):
    path = write(tmp_path, SUITE)
    add_test(path, question, "decline", IDS)
    assert load_suite(path, IDS).tests[-1].question == question
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["tests"][-1]["question"] == question


def test_add_test_creates_the_file_and_follows_its_indentation(tmp_path):
    path = tmp_path / "new" / "kb_tests.yml"
    first = add_test(path, "my card", "card_arrival", IDS, allow_clarify=True)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Knowledge-base regression tests") and first.line == len(text.splitlines()) - 2
    assert load_suite(path, IDS).tests[0].allow_clarify

    indented = write(tmp_path, "tests:\n    - question: a\n      expect: decline\n", "four.yml")
    add_test(indented, "b", "exchange_rate", IDS)
    assert indented.read_text(encoding="utf-8").endswith("\n    - question: b\n      expect: exchange_rate\n")

    flow = write(tmp_path, "# mine\ntests: []\n", "flow.yml")
    add_test(flow, "c", "decline", IDS)
    assert flow.read_text(encoding="utf-8") == "# mine\ntests:\n  - question: c\n    expect: decline\n"
    assert len(load_suite(flow, IDS)) == 1


def test_add_test_keeps_the_files_mode(tmp_path):
    path = write(tmp_path, SUITE)
    path.chmod(0o640)
    add_test(path, "b", "decline", IDS)
    assert path.stat().st_mode & 0o777 == 0o640


# ---------------------------------------------------------------- running


def test_the_tests_run_against_a_real_index_and_failures_say_what_happened(small_kb, tmp_path):
    suite = load_suite(write(tmp_path, SUITE), IDS)
    outcomes = run_suite(small_kb, suite)
    assert [o.passed for o in outcomes] == [True, True, True, True]
    assert [o.decision for o in outcomes] == ["answer", "answer", "decline", "clarify"]
    assert outcomes[3].ranked.offered[:2] == ("lost_or_stolen_card", "card_arrival")
    assert summary(outcomes) == "4 tests: 4 passed, 0 failed"

    wrong = parse_suite(
        """\
tests:
  - question: my new card still hasn't come in the post
    expect: exchange_rate
  - question: what is the weather on mars
    expect: card_arrival
  - question: someone took my card
    expect: decline
  - question: my card
    expect: card_arrival
""",
        "kb_tests.yml",
        IDS,
    )
    failed = run_suite(small_kb, wrong)
    assert not any(o.passed for o in failed)
    messages = [o.message() for o in failed]
    confidence = r" \(confidence (\d\.\d\d)\)"
    patterns = [
        "expected exchange_rate, got card_arrival" + confidence,
        "expected card_arrival, got decline" + confidence,
        "expected decline, got lost_or_stolen_card" + confidence,
        "expected card_arrival, got clarify between lost_or_stolen_card, card_arrival, exchange_rate"
        + confidence,
    ]
    matches = [re.fullmatch(p, m) for p, m in zip(patterns, messages, strict=True)]
    assert all(matches), messages
    assert [float(m.group(1)) for m in matches if m] == [round(o.ranked.confidence, 2) for o in failed]
    assert float(matches[1].group(1)) < 0.1 and float(matches[2].group(1)) > 0.9
    assert summary(failed) == "4 tests: 0 passed, 4 failed"
    data = failed[0].to_dict()
    assert data["line"] == 2 and data["top"] == "card_arrival" and data["passed"] is False


def test_a_ranked_question_decides_as_search_does(small_kb):
    for question in ("my new card still hasn't come", "what is the weather on mars", "my card", "  "):
        ranked = rank_question(small_kb, question)
        result = small_kb.search(question)
        assert ranked.decision(small_kb.settings) == result.decision
        assert round(ranked.confidence, 4) == result.confidence
        assert [h.id for h in ranked.hits[:5]] == [h.id for h in result.articles]


def test_other_thresholds_are_decided_without_searching_again(small_kb, tmp_path, monkeypatch):
    suite = load_suite(write(tmp_path, SUITE), IDS)
    searched: list[str] = []
    rank = small_kb.rank
    monkeypatch.setattr(small_kb, "rank", lambda q, limit=5: searched.append(q) or rank(q, limit=limit))
    ranked = rank_suite(small_kb, suite)
    assert len(searched) == 4

    current = small_kb.settings
    everything = DecisionSettings(answer_at=0.0, clarify_at=0.0)
    nothing = DecisionSettings(answer_at=1.0, clarify_at=1.0)
    assert [o.decision for o in judge(ranked, everything)] == ["answer"] * 4
    assert [o.decision for o in judge(ranked, nothing)] == ["decline"] * 4

    at_zero = what_if(ranked, current, everything)
    # the decline test now answers (fails); "my card" answers with the wrong article (fails)
    assert (at_zero.passed, at_zero.failed) == (2, 2)
    assert [(f.to_dict()["line"], f.to_dict()["was"], f.to_dict()["now"]) for f in at_zero.flips] == [
        (9, "passed", "failed"),
        (11, "passed", "failed"),
    ]
    assert at_zero.flips[0].to_dict()["decision_now"] == "answer"
    at_one = what_if(ranked, current, nothing)
    assert (at_one.passed, at_one.failed) == (1, 3)  # only the decline test passes
    assert {f.before.test.line for f in at_one.flips} == {3, 5, 11}
    same = what_if(ranked, current, current)
    assert same.flips == [] and same.passed == 4
    assert len(searched) == 4  # judged five times over, searched once
