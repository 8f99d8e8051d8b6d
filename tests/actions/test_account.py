"""Answers from the customer's own account, over a real seeded SQLite back office, the real
data/account.yml and data/assistant.yml, and signed customer tokens."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ProactiveHelp, offer_outcome
from actions.greet import ActionGreet
from actions.kb import ActionKnowledgeBaseAnswer
from actions.services import Services
from assistant.account.facts import AccountFacts
from assistant.account.words import load_account_words
from assistant.backoffice import BackOffice
from assistant.content import load_content
from assistant.guided.trees import load_trees
from assistant.identity import sign
from assistant.insights.events import PROACTIVE_OFFERED
from assistant.insights.store import InsightsStore
from tests.actions.conftest import make_tracker

ROOT = Path(__file__).resolve().parents[2]
SECRET = "account-tests"


@pytest.fixture
def account_services(services: Services, tmp_path: Path) -> Services:
    office = BackOffice(f"sqlite:///{tmp_path / 'backoffice.db'}")
    office.seed_demo()
    editors = load_content(ROOT / "data" / "assistant.yml")
    return dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, identity_secret=SECRET),
        content=dataclasses.replace(services.content, proactive=editors.proactive),
        trees=load_trees(ROOT / "data" / "troubleshooting"),
        backoffice=office,
        analytics=InsightsStore(f"sqlite:///{tmp_path / 'analytics.db'}"),
        account=AccountFacts(office, load_account_words(ROOT / "data" / "account.yml")),
    )


def signed(customer: str) -> dict[str, str]:
    return {"customer_token": sign(SECRET, customer)}


async def ask(
    services: Services, text: str, customer: str | None, events: list[dict[str, Any]] | None = None
) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    meta = signed(customer) if customer else {}
    tracker = make_tracker(text, metadata=meta, events=events)
    result = await ActionKnowledgeBaseAnswer(services).run(dispatcher, tracker, {})
    return dispatcher, list(result)


def account_of(dispatcher: CollectingDispatcher) -> dict[str, Any]:
    return dispatcher.messages[0]["custom"]["data"]["account"]


def said(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def payloads(dispatcher: CollectingDispatcher) -> list[str]:
    return [b["payload"] for m in dispatcher.messages for b in m.get("buttons") or []]


async def test_the_balance_is_the_signed_in_customers_own(account_services) -> None:
    dispatcher, _ = await ask(account_services, "how much money do I have in my account", "cust-ben")
    assert "£18.40" in said(dispatcher)
    assert account_of(dispatcher)["topic"] == "balance"
    assert "/request_human" in payloads(dispatcher)
    dispatcher, _ = await ask(account_services, "how much money do I have in my account", "cust-ava")
    assert "£2,450.00" in said(dispatcher) and "£18.40" not in said(dispatcher)


async def test_a_frozen_card_says_since_when_and_why(account_services) -> None:
    dispatcher, _ = await ask(account_services, "is my card 1192 still frozen?", "cust-ben")
    text = said(dispatcher)
    assert "ending 1192" in text and "frozen" in text and "lost" in text
    assert "3307" not in text  # only the card asked about


async def test_an_ordered_card_gives_its_posting_and_expected_date(account_services) -> None:
    dispatcher, _ = await ask(account_services, "where is my new card, I ordered it last week", "cust-ava")
    text = said(dispatcher)
    assert "5012" in text and "standard delivery" in text and "posted yesterday" in text
    facts = account_of(dispatcher)["facts"]
    assert facts[0]["kind"] == "card_order" and facts[0]["expected_by"]
    dispatcher, _ = await ask(account_services, "has my new card been posted yet?", "cust-ben")
    assert "can't see a card on order" in said(dispatcher)


async def test_a_failed_transfer_gives_the_reason_and_the_fix(account_services) -> None:
    dispatcher, events = await ask(account_services, "did my payment to Alex go through", "cust-ben")
    text = said(dispatcher)
    assert "£25.00 to Alex Kim" in text and "failed" in text and "enough money" in text
    assert "/make_transfer" in payloads(dispatcher)
    problem = next(e["value"] for e in events if e.get("name") == "account_problem")
    assert "Alex Kim" in problem and "insufficient_funds" in problem


async def test_a_declined_payment_is_explained_with_the_article_offered(account_services) -> None:
    dispatcher, _ = await ask(account_services, "why was my card payment declined?", "cust-ben")
    text = said(dispatcher)
    assert "Spotify" in text and "declined" in text and "Why:" in text
    assert "Co-op" not in text  # the completed one is not what was asked about


async def test_a_short_follow_up_leans_on_the_account_answer_just_given(account_services) -> None:
    first, _ = await ask(account_services, "did my transfer to Alex go through?", "cust-ben")
    bot = {"event": "bot", "text": first.messages[0]["text"], "data": {"custom": first.messages[0]["custom"]}}
    earlier = [{"event": "user", "text": "did my transfer to Alex go through?"}, bot]
    dispatcher, _ = await ask(account_services, "why not?", "cust-ben", events=earlier)
    assert account_of(dispatcher)["topic"] == "transfers"
    assert "enough money" in said(dispatcher)


async def test_an_anonymous_customer_is_asked_to_sign_in_and_sees_no_data(account_services) -> None:
    dispatcher, _ = await ask(account_services, "how much money do I have in my account", None)
    assert "sign in" in said(dispatcher) and "£" not in said(dispatcher)
    assert account_of(dispatcher) == {"topic": "balance", "sign_in": True}
    assert "/request_human" in payloads(dispatcher)


@pytest.mark.parametrize(
    "question",
    [
        "is my card 1192 still frozen?",  # Ben's card, by its digits
        "did my transfer to Alex go through?",  # Ben's payee, by name
        "was my Spotify payment declined?",  # Ben's merchant
    ],
)
async def test_no_wording_reaches_another_customers_data(account_services, question) -> None:
    dispatcher, _ = await ask(account_services, question, "cust-ava")
    text = said(dispatcher)
    for bens in ("1192", "Alex", "Spotify", "£25.00", "£11.99", "£18.40"):
        assert bens not in text


async def test_a_general_question_is_left_to_the_knowledge_base(account_services) -> None:
    dispatcher, _ = await ask(account_services, "how long does a new card take to arrive?", "cust-ava")
    assert "account" not in dispatcher.messages[-1].get("custom", {}).get("data", {})


async def test_the_proactive_opener_is_shown_once_and_only_to_its_customer(account_services) -> None:
    greet = ActionGreet(account_services)
    dispatcher = CollectingDispatcher()
    events = await greet.run(
        dispatcher, make_tracker("/greet", intent="greet", metadata=signed("cust-ben")), {}
    )
    offer = next(m for m in dispatcher.messages if "proactive" in (m.get("custom") or {}).get("data", {}))
    assert "top-up of £50.00" in offer["text"] and "Visa debit ending 0042" in offer["text"]
    assert '/troubleshoot{"tree_id": "top_up_failed"}' in [b["payload"] for b in offer["buttons"]]
    assert any(e.get("name") == "account_problem" and e["value"] for e in events)
    top_up = offer["custom"]["data"]["proactive"]["id"]
    assert account_services.analytics.seen(PROACTIVE_OFFERED, [top_up]) == {top_up}

    again = CollectingDispatcher()
    await greet.run(again, make_tracker("/greet", intent="greet", metadata=signed("cust-ben")), {})
    offers = [m for m in again.messages if "proactive" in (m.get("custom") or {}).get("data", {})]
    assert all(m["custom"]["data"]["proactive"]["id"] != top_up for m in offers)  # once only
    assert all("0042" not in (m.get("text") or "") for m in again.messages)

    ava = CollectingDispatcher()
    await greet.run(ava, make_tracker("/greet", intent="greet", metadata=signed("cust-ava")), {})
    assert not [m for m in ava.messages if "proactive" in (m.get("custom") or {}).get("data", {})]
    anonymous = CollectingDispatcher()
    assert ProactiveHelp(account_services).offer(anonymous, make_tracker("/greet", intent="greet")) is None


async def test_a_failure_added_for_a_demo_is_offered(account_services) -> None:
    from decimal import Decimal

    account_services.backoffice.add_failure(
        "cust-ava", "payment", Decimal("42.00"), "insufficient_funds", what="Ikea"
    )
    dispatcher = CollectingDispatcher()
    await ActionGreet(account_services).run(
        dispatcher, make_tracker("/greet", intent="greet", metadata=signed("cust-ava")), {}
    )
    assert any("£42.00 at Ikea" in (m.get("text") or "") for m in dispatcher.messages)


def test_the_outcome_of_an_offer_is_what_the_customer_did_next() -> None:
    offer = {
        "id": "op-1",
        "kind": "topup",
        "buttons": ['/troubleshoot{"tree_id": "top_up_failed"}', "/request_human"],
    }
    bot = {"event": "bot", "text": "I can see…", "data": {"custom": {"data": {"proactive": offer}}}}
    opened = [{"event": "user", "text": "/greet"}, bot]

    def after(text: str, intent: str) -> Any:
        return offer_outcome(make_tracker(text, intent=intent, events=opened))

    assert after('/troubleshoot{"tree_id": "top_up_failed"}', "troubleshoot") == (offer, "accepted")
    assert after("can I speak to someone", "request_human") == (offer, "person")
    assert after("what are your opening hours", "ask_question") == (offer, "ignored")
    assert offer_outcome(make_tracker("hello")) is None


def test_a_problem_solved_after_an_offer_is_its_resolution(account_services) -> None:
    from actions.account import record_resolution

    offer = {"id": "op-9", "kind": "topup", "buttons": []}
    bot = {"event": "bot", "text": "I can see…", "data": {"custom": {"data": {"proactive": offer}}}}
    tracker = make_tracker("yes that fixed it", events=[{"event": "user", "text": "/greet"}, bot])
    record_resolution(account_services, tracker, "tree top_up_failed")
    events = account_services.analytics.events_of(tracker.sender_id)
    assert [(e["kind"], e["name"], e["outcome"]) for e in events] == [
        ("proactive_outcome", "op-9", "resolved")
    ]
    record_resolution(account_services, make_tracker("thanks", sender_id="other"), "transfer")
    assert account_services.analytics.events_of("other") == []  # no offer in that conversation


async def test_a_follow_up_nlu_reads_as_a_plain_no_is_read_in_context(account_services) -> None:
    from actions.kb import ActionOutsideATask

    first, _ = await ask(account_services, "did my transfer to Alex go through?", "cust-ben")
    bot = {"event": "bot", "text": first.messages[0]["text"], "data": {"custom": first.messages[0]["custom"]}}
    earlier = [{"event": "user", "text": "did my transfer to Alex go through?"}, bot]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("nope, why not", intent="deny", metadata=signed("cust-ben"), events=earlier)
    await ActionOutsideATask(account_services).run(dispatcher, tracker, {})
    assert "enough money" in said(dispatcher)
    plain = CollectingDispatcher()
    tracker = make_tracker("no", intent="deny", metadata=signed("cust-ben"), events=earlier)
    await ActionOutsideATask(account_services).run(plain, tracker, {})
    assert [m.get("response") for m in plain.messages] == ["utter_anything_else"]


async def test_a_follow_up_to_the_same_facts_says_what_it_asks_not_the_same_message(account_services) -> None:
    first, _ = await ask(account_services, "did my transfer to Alex go through?", "cust-ben")
    message = first.messages[0]
    bot = {"event": "bot", "text": message["text"], "data": {"custom": message["custom"]}}
    earlier = [{"event": "user", "text": "did my transfer to Alex go through?"}, bot]
    why, _ = await ask(account_services, "but why?", "cust-ben", events=earlier)
    assert said(why).startswith("The transfer of £25.00 to Alex Kim failed because there wasn't enough")
    again, _ = await ask(account_services, "and that one to alex?", "cust-ben", events=earlier)
    assert said(again) != message["text"] and said(again).startswith("Nothing has changed")


async def test_not_signed_in_an_answered_question_keeps_its_article_and_says_what_signing_in_adds(
    account_services,
) -> None:
    dispatcher, _ = await ask(account_services, "my new card still hasn't arrived, where is it?", None)
    kb = next(
        m["custom"]["data"]["kb"] for m in dispatcher.messages if "kb" in m.get("custom", {}).get("data", {})
    )
    assert kb["article_id"] == "card_arrival" and kb["decision"] == "answer"
    assert "sign in" in dispatcher.messages[-1]["text"] and "card order" in dispatcher.messages[-1]["text"]
    assert "5012" not in said(dispatcher)
