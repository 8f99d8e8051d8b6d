"""The lifecycle stages over the real stack (Rasa, action server, web app), with the back office
in SQLite and customers identified by signed tokens, as the chat page sends them."""

from __future__ import annotations

import uuid

import pytest

from assistant.identity import sign
from tests.integration.conftest import custom, query, texts

pytestmark = pytest.mark.integration


def new_sender() -> str:
    return f"stage-{uuid.uuid4().hex[:10]}"


def signed_in(stack, customer: str = "cust-ava", visits: int = 3) -> dict:
    return {
        "customer_token": sign(stack.identity_secret, customer, name="Demo"),
        "visitor": {"visits": visits, "returning": visits > 1},
    }


def payloads(messages) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons", [])]


def test_browse_categories_then_articles(say, tracker):
    sender = new_sender()
    messages = say(sender, "show me the help topics")
    assert '/browse{"kb_category": "Cards"}' in payloads(messages)
    messages = say(sender, '/browse{"kb_category": "Cards"}')
    assert '/show_article{"article_id": "activate_my_card"}' in payloads(messages)
    assert tracker(sender)["slots"]["stage"] == "information_gathering"


def test_a_tree_in_free_text_solved_then_one_cross_sell(say, tracker):
    sender = new_sender()
    messages = say(sender, '/troubleshoot{"tree_id": "card_declined"}')
    assert custom(messages, "tree")["id"] == "card_declined"
    messages = say(sender, "the app says my card is frozen")
    assert "Your card is frozen" in texts(messages)
    assert "Did this solve it?" in texts(messages)
    messages = say(sender, "yes it did")
    assert "glad" in texts(messages)
    assert "virtual card" in texts(messages)  # the configured cross-sell for card_declined
    slots = tracker(sender)["slots"]
    assert slots["stage"] == "troubleshooting" and slots["tree_outcome"] == "solved"
    assert len(slots["tree_path"]) == 3


def test_an_unsolved_tree_hands_off_with_the_path(say, stack):
    sender = new_sender()
    say(sender, '/troubleshoot{"tree_id": "top_up_failed"}')
    say(sender, '/choose{"choice": "credit"}')
    messages = say(sender, "no, it didn't")
    assert "passing you to a person" in texts(messages)
    [(reason, slots)] = query(
        stack, "select reason, slots from handoffs where conversation_id = :c", {"c": sender}
    )
    assert reason == "tree_unresolved"
    assert "Did this solve it?" in slots and "credit" in slots.lower()


def test_a_novice_question_about_a_problem_is_answered_with_the_tree_offered(say, tracker):
    sender = new_sender()
    say(sender, "/greet")  # no visitor history: a first visit, so a novice
    messages = say(sender, "my card payment was declined in a shop")
    assert "one question at a time" in texts(messages)  # offered, not started
    assert '/troubleshoot{"tree_id": "card_declined"}' in payloads(messages)
    assert tracker(sender)["active_loop"] in ({}, None)


def test_product_comparison_from_buttons_and_free_text(say, tracker):
    sender = new_sender()
    messages = say(sender, "which account is right for me?")
    assert custom(messages, "guided")["need"] == "purpose"
    say(sender, '/choose{"choice": "travel"}')
    say(sender, "I'd pay up to £5 a month")
    messages = say(sender, "I go abroad all the time")
    if custom(messages, "guided")["need"] == "cash":  # asked unless spotted already
        messages = say(sender, '/choose{"choice": "some"}')
    table = custom(messages, "comparison")
    assert 1 <= len(table["columns"]) <= 3
    assert all(r["product_id"] for r in table["recommendations"])
    assert "customers with similar needs" in texts(messages)
    assert any(p.startswith("/choose_product") for p in payloads(messages))
    assert tracker(sender)["slots"]["stage"] == "product_comparison"


def test_a_transaction_needs_a_signed_token(say, stack):
    sender = new_sender()
    messages = say(sender, "freeze my card")
    assert "sign in" in texts(messages)
    forged = {"customer_token": sign("wrong-secret", "cust-ava")}
    assert "sign in" in texts(say(new_sender(), "freeze my card", forged))


def test_identity_is_bound_to_the_message_and_the_conversation(say, stack):
    """A shared computer: Ava signed in; the next message without her token, or with Ben's,
    cannot act as a customer in her conversation."""
    sender = new_sender()
    assert "sign in" not in texts(say(sender, "freeze my card", signed_in(stack)))
    say(sender, "cancel", signed_in(stack))
    assert "sign in" in texts(say(sender, "freeze my card"))  # no token now: nobody
    say(sender, "cancel")
    messages = say(sender, "freeze my card", signed_in(stack, "cust-ben"))
    assert "started by someone else" in texts(messages)
    assert "sign in" not in texts(say(new_sender(), "freeze my card", signed_in(stack, "cust-ben")))


def test_freeze_a_card_with_a_person_in_the_middle_then_the_form_resumes(say, stack, http):
    sender, meta = new_sender(), signed_in(stack)
    messages = say(sender, "freeze my card", meta)
    assert '/choose{"choice": "cust-ava-card2"}' in payloads(messages)
    messages = say(sender, "the virtual one ending 7730", meta)
    assert "Why are you freezing it?" in texts(messages)
    messages = say(sender, "talk to a person", meta)
    handoff_id = custom(messages, "handoff")["id"]
    [(reason, slots)] = query(stack, "select reason, slots from handoffs where id = :h", {"h": handoff_id})
    assert reason == "customer_request_in_freeze_card_form"
    assert '"freeze_card_id": "cust-ava-card2"' in slots and '"customer_id": "cust-ava"' in slots
    assert say(sender, "hello?", meta) == []  # paused while a person has it

    status, _ = http.call(
        "POST",
        f"http://127.0.0.1:{stack.public_port}/api/handoffs/{handoff_id}/resume",
        headers={"Authorization": f"Bearer {stack.api_token}"},
    )
    assert status == 200
    messages = say(sender, "I lost it", meta)
    assert "Freeze your virtual card ending 7730?" in texts(messages)
    messages = say(sender, "yes", meta)
    assert "ending 7730 is frozen" in texts(messages)
    [(status_now,)] = query(stack, "select status from cards where id = 'cust-ava-card2'", db="bank")
    assert status_now == "frozen"


def test_a_refused_transfer_is_explained_with_the_next_step(say, stack):
    sender, meta = new_sender(), signed_in(stack, "cust-ben")
    say(sender, "make a transfer", meta)
    say(sender, "Alex", meta)
    messages = say(sender, "£50", meta)
    assert "Send £50.00 to Alex Kim" in texts(messages)
    messages = say(sender, "yes", meta)
    assert "£18.40" in texts(messages) and "Top up" in texts(messages)
    assert custom(messages, "refusal")["code"] == "insufficient_funds"


def test_help_inside_a_form_keeps_the_values_and_cancel_changes_nothing(say, stack):
    sender, meta = new_sender(), signed_in(stack)
    say(sender, "make a transfer", meta)
    say(sender, '/choose{"choice": "cust-ava-payee2"}', meta)
    messages = say(sender, "what does that mean?", meta)
    assert "in pounds" in texts(messages) and "payee: Mum" in texts(messages)
    assert "How much would you like to send" in texts(messages)  # the form asks again
    messages = say(sender, "cancel", meta)
    assert "Nothing was changed" in texts(messages)
