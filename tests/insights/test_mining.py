"""Failed questions mined into suggestions over a real (small) knowledge base and the real encoder:
a cluster names its article, accepting writes the questions into the article file (comments and
other fields kept) and records who did it, a conflicting question is refused with the conflict,
rejected questions stay out of later clusters, and agents' answers become drafts."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from assistant.handoff.store import HandoffStore
from assistant.insights import mining
from assistant.insights.store import InsightsStore
from assistant.kb.articles import load_articles
from assistant.kb.edit import EditConflict, add_questions, new_article
from tests.insights.test_outcomes import Stream

CARD_QUESTIONS = [
    "my new card still has not come in the post",
    "the card you sent me never turned up",
    "been waiting ages for my card to be delivered",
]
OTHER = ["what time does the moon rise", "best pizza near me"]
BATCHES = itertools.count()


@pytest.fixture
def live_kb(article_dir: Path, encoder, tmp_path: Path):
    from assistant.kb.build import build_from_source
    from assistant.kb.live import LiveKnowledgeBase

    build_from_source(article_dir, tmp_path / "index", lambda: encoder)
    return LiveKnowledgeBase(tmp_path / "index", encoder, check_every=0.0)


@pytest.fixture
def stores(tmp_path: Path):
    handoffs = HandoffStore(f"sqlite:///{tmp_path / 'main.db'}")
    return InsightsStore(f"sqlite:///{tmp_path / 'main.db'}", handoffs=handoffs), handoffs


def declined(store: InsightsStore, questions: list[str]) -> None:
    stream = Stream()
    for i, question in enumerate(questions):
        sender = f"c{i}-{abs(hash(question)) % 10_000}"
        stream.start(sender).user(sender, 1, question, "ask_question")
        stream.insight(sender, 1, "search_failed", question=question)
    store.ingest(f"batch-{next(BATCHES)}", stream.events)  # each batch numbers its events from 1
    store.label_pending()


def test_three_failed_questions_alike_become_a_suggestion_an_editor_accepts(
    stores, live_kb, article_dir
) -> None:
    store, handoffs = stores
    miner = mining.Miner(store, live_kb, article_dir, handoffs=handoffs)
    declined(store, CARD_QUESTIONS[:2] + OTHER)
    assert miner.mine().clusters == 0  # two alike are not yet a pattern (min_cluster_size 3)
    declined(store, CARD_QUESTIONS[2:])
    report = miner.mine()
    assert (report.clusters, report.suggestions_open) == (1, 1)
    (suggestion,) = miner.suggestions()
    assert suggestion["kind"] == mining.ADD_EXAMPLES and suggestion["article_id"] == "card_arrival"
    assert sorted(suggestion["examples"]) == sorted(CARD_QUESTIONS) and suggestion["size"] == 3
    assert suggestion["nearest"][0]["id"] == "card_arrival" and suggestion["conflicts"] == []

    path = article_dir / "cards" / "card_arrival.md"
    path.write_text(
        path.read_text().replace("questions:\n", "# the editors' own wording first\nquestions:\n")
    )
    result = miner.accept(suggestion["id"], "editor", questions=CARD_QUESTIONS[:2])
    assert result["written"] == CARD_QUESTIONS[:2] and result["file"] == str(path)
    text = path.read_text()
    assert "# the editors' own wording first" in text and "related: [lost_or_stolen_card]" in text
    article = next(a for a in load_articles(article_dir) if a.id == "card_arrival")
    assert article.questions[-2:] == tuple(CARD_QUESTIONS[:2])
    (change,) = miner.changes()
    assert (change["who"], change["action"], change["article_id"]) == (
        "editor",
        "examples_added",
        "card_arrival",
    )
    assert miner.suggestions() == [] and miner.suggestions("accepted")[0]["decided_by"] == "editor"
    assert sorted(f.question for f in store.open_failed()) == sorted(OTHER)  # the accepted ones are done
    with pytest.raises(mining.NotOpen):
        miner.reject(suggestion["id"], "editor")


def test_a_question_that_is_another_articles_example_is_a_conflict(stores, live_kb, article_dir) -> None:
    store, _ = stores
    miner = mining.Miner(store, live_kb, article_dir)
    declined(store, CARD_QUESTIONS)
    miner.mine()
    (suggestion,) = miner.suggestions()
    before = (article_dir / "cards" / "card_arrival.md").read_text()
    with pytest.raises(mining.Conflicting) as refused:
        miner.accept(suggestion["id"], "editor", questions=["I lost my card", CARD_QUESTIONS[0]])
    assert refused.value.conflicts == [{"question": "I lost my card", "article_id": "lost_or_stolen_card"}]
    assert (article_dir / "cards" / "card_arrival.md").read_text() == before  # nothing written


def test_rejected_questions_stay_out_of_the_way(stores, live_kb, article_dir) -> None:
    store, _ = stores
    miner = mining.Miner(store, live_kb, article_dir)
    declined(store, CARD_QUESTIONS)
    miner.mine()
    (suggestion,) = miner.suggestions()
    assert miner.reject(suggestion["id"], "editor") == {"status": "rejected"}
    miner.mine(force=True)
    assert miner.suggestions() == []
    assert miner.suggestions("rejected")[0]["id"] == suggestion["id"]


def test_questions_no_article_answers_ask_for_a_draft(stores, live_kb, article_dir) -> None:
    store, _ = stores
    miner = mining.Miner(store, live_kb, article_dir)
    declined(store, ["can I get a mortgage", "do you do mortgages", "mortgage rates please"])
    miner.mine()
    (suggestion,) = miner.suggestions()
    assert suggestion["kind"] == mining.DRAFT_ARTICLE and suggestion["article_id"] is None
    with pytest.raises(ValueError):
        miner.accept(suggestion["id"], "editor")  # no article to add them to


def test_a_handoff_closed_as_resolved_becomes_a_draft_an_editor_publishes(
    stores, live_kb, article_dir
) -> None:
    store, handoffs = stores
    miner = mining.Miner(store, live_kb, article_dir, handoffs=handoffs)
    transcript = [
        {"role": "user", "text": "can I pay my rent with a standing order", "intent": "ask_question"},
        {"role": "bot", "text": "Sorry, I don't know that one."},
        {"role": "user", "text": "talk to a person", "intent": "request_human"},
        {
            "role": "agent",
            "text": "Hi, I'm Sam. Yes: set up a standing order under Payments -> Regular.",
            "agent": "Sam",
        },
        {"role": "agent", "text": "It goes out on the day you choose each month.", "agent": "Sam"},
    ]
    record = handoffs.create("c1", reason="customer_asked", stage="", transcript=transcript, slots={})
    handoffs.finish(record.id, status="closed", outcome="resolved", transcript=transcript)
    assert miner.draft_from_handoffs() == 1 and miner.draft_from_handoffs() == 0
    (draft,) = miner.drafts()
    assert draft["title"] == "Can I pay my rent with a standing order"
    assert draft["body"].startswith("Yes: set up a standing order") and "each month" in draft["body"]
    assert draft["questions"] == ["can I pay my rent with a standing order"]
    published = miner.publish_draft(
        draft["id"], "editor", article_id="standing_orders", title="Standing orders", body=draft["body"],
        questions=draft["questions"], folder="cards",
    )  # fmt: skip
    assert Path(published["file"]).is_file()
    assert "standing_orders" in {a.id for a in load_articles(article_dir)}
    assert miner.changes()[0]["action"] == "article_published"
    with pytest.raises(mining.NotOpen):
        miner.reject_draft(draft["id"], "editor")


def test_edits_are_validated_before_anything_is_written(article_dir) -> None:
    from assistant.kb.articles import ArticleError

    with pytest.raises(ArticleError):
        add_questions(article_dir, "no_such_article", ["x"])
    with pytest.raises(EditConflict):
        add_questions(article_dir, "exchange_rate", ["Someone stole my card, what do I do"])
    _path, written = add_questions(article_dir, "exchange_rate", ["Which exchange rate do you apply"])
    assert written == []  # it had that one already (case and punctuation ignored)
    with pytest.raises(ArticleError):
        new_article(article_dir, "cards", "card_arrival", "Dup", "Cards", "Body text.", [])
    with pytest.raises(ArticleError):
        new_article(article_dir, "../etc", "fresh", "Fresh", "Cards", "Body text.", [])
    assert not list(article_dir.rglob("*.part"))


def test_mining_again_with_nothing_new_does_no_work(stores, live_kb, article_dir) -> None:
    store, _ = stores
    miner = mining.Miner(store, live_kb, article_dir)
    declined(store, CARD_QUESTIONS)
    assert miner.mine().skipped is False
    assert miner.mine().skipped is True


@pytest.mark.parametrize(
    "questions",
    [
        "questions: [Which exchange rate do you apply?, How much will I get?]",
        "questions: # the editors' own\n  - Which exchange rate do you apply?\n  - How much will I get?",
        "questions:\n  - Which exchange rate do you apply?\n  - >-\n    How much will I get?\n  # more",
    ],
)
def test_questions_are_added_whatever_the_lists_layout(article_dir, questions) -> None:
    path = article_dir / "exchange" / "exchange_rate.md"
    text = path.read_text()
    start = text.index("questions:")
    end = text.index("---", start)
    path.write_text(text[:start] + questions + "\n" + text[end:])
    _, written = add_questions(article_dir, "exchange_rate", ["do you mark up the rate at weekends"])
    assert written == ["do you mark up the rate at weekends"]
    article = next(a for a in load_articles(article_dir) if a.id == "exchange_rate")
    assert article.questions == (
        "Which exchange rate do you apply?",
        "How much will I get?",
        "do you mark up the rate at weekends",
    )


def test_a_new_article_never_replaces_a_file(article_dir) -> None:
    from assistant.kb.articles import ArticleError

    original = (article_dir / "cards" / "card_arrival.md").read_text()
    (article_dir / "cards" / "odd_name.md").write_text(original)
    (article_dir / "cards" / "card_arrival.md").unlink()  # the id lives on in odd_name.md
    with pytest.raises(ArticleError):
        new_article(article_dir, "cards", "Card_Arrival", "Dup", "Cards", "Body text.", [])  # the same id
    with pytest.raises(ArticleError):
        new_article(article_dir, "cards", "README", "Readme", "Cards", "Body text.", [])
