"""Forms that follow the customer, over the real stack: what the opening request says fills the
form, values out of order are kept, a correction sticks and is said back, a question mid-form
is answered and the form asks again, a tree lets go of a question, and the assistant never
sends the same message three times in a row. Goals are checked in the real back office."""

from __future__ import annotations

import pytest

from tests.integration.conftest import query, texts
from tests.integration.test_stages import new_sender, signed_in

pytestmark = pytest.mark.integration


def transfers(stack, customer: str) -> list[tuple[str, int]]:
    return query(
        stack,
        "select payee_id, amount_minor from transfers where customer_id = :c order by created_at",
        {"c": customer},
        db="bank",
    )


def test_the_opening_request_fills_the_form_and_a_correction_sticks(say, stack, tracker):
    sender, meta = new_sender(), signed_in(stack)
    before = transfers(stack, "cust-ava")
    messages = say(sender, "send £40 to my mum please", meta)
    assert "Send £40.00 to Mum" in texts(messages)  # nothing asked that was already said
    messages = say(sender, "no wait, make it 30", meta)
    assert "changed the amount to £30.00" in texts(messages)
    assert "Send £30.00 to Mum" in texts(messages)
    say(sender, "yes please", meta)
    assert transfers(stack, "cust-ava")[len(before) :] == [("cust-ava-payee2", 3000)]


def test_a_value_out_of_order_and_a_question_mid_form(say, stack, tracker):
    sender, meta = new_sender(), signed_in(stack)
    messages = say(sender, "make a transfer", meta)
    assert "Who would you like to send money to?" in texts(messages)
    messages = say(sender, "25", meta)  # the amount, while the payee is asked
    assert tracker(sender)["slots"]["transfer_amount"] == "25.00"
    assert "Who would you like to send money to?" in texts(messages)
    messages = say(sender, "how long does a transfer take to arrive?", meta)
    assert "couldn't find that name" not in texts(messages)  # a question, not a wrong payee
    assert "Who would you like to send money to?" in texts(messages)  # and the form asks again
    assert tracker(sender)["slots"]["form_misses"] == {"transfer_payee": 1}  # unsure: the next ask changes
    messages = say(sender, "Sam", meta)
    assert "Send £25.00 to Sam Carter" in texts(messages)
    assert tracker(sender)["slots"]["form_misses"] == {}


def test_the_plastic_one_and_no_loop_on_answers_that_do_not_fit(say, stack, tracker):
    sender, meta = new_sender(), signed_in(stack)
    say(sender, "freeze my card", meta)
    messages = say(sender, "the plastic one", meta)
    assert tracker(sender)["slots"]["freeze_card_id"] == "cust-ava-card1"
    assert "Why are you freezing it?" in texts(messages)
    replies = [texts(say(sender, "purple elephants", meta)) for _ in range(4)]
    assert not any(a == b == c for a, b, c in zip(replies, replies[1:], replies[2:], strict=False))
    assert "Let me put it another way" in replies[1] and "talk to a person" in replies[1].lower()
    messages = say(sender, "it was nicked on the bus", meta)
    assert "Freeze your physical card ending 4821" in texts(messages)  # (frozen) by an earlier test


def test_a_question_inside_a_tree_lets_go_of_the_tree(say, tracker):
    sender = new_sender()
    say(sender, '/troubleshoot{"tree_id": "card_not_arrived"}')
    messages = say(sender, "what are your fees for sending money abroad?")
    slots = tracker(sender)["slots"]
    assert slots["tree_outcome"] == "left" and tracker(sender)["active_loop"] in ({}, None)
    assert "didn't catch which one you meant" not in texts(messages)
    assert any("kb" in m.get("custom", {}).get("data", {}) for m in messages)  # the knowledge base answered


def test_a_lost_card_story_freezes_it_and_a_yes_read_as_cancel_still_confirms(say, stack, tracker):
    sender, meta = new_sender(), signed_in(stack, "cust-chloe")
    messages = say(sender, "my card has been stolen", meta)
    assert tracker(sender)["active_loop"].get("name") == "freeze_card_form"  # the freeze started
    messages = say(sender, "the one ending 6101", meta)
    assert "Freeze your physical card ending 6101?" in texts(messages)
    messages = say(sender, "yes freeze it", meta)
    assert "ending 6101 is frozen" in texts(messages)
    [(status,)] = query(
        stack, "select status from cards where customer_id = 'cust-chloe' and last4 = '6101'", db="bank"
    )
    assert status == "frozen"


def test_the_same_again_right_after_a_transfer_takes_the_new_payee_and_keeps_the_amount(say, stack, tracker):
    sender, meta = new_sender(), signed_in(stack)
    before = transfers(stack, "cust-ava")
    say(sender, "send £12 to my mum", meta)
    say(sender, "yes", meta)
    messages = say(sender, "and the same again for Sam", meta)
    assert "Send £12.00 to Sam Carter" in texts(messages)  # the amount kept, the payee changed
    say(sender, "yes", meta)
    assert transfers(stack, "cust-ava")[len(before) :] == [
        ("cust-ava-payee2", 1200),
        ("cust-ava-payee1", 1200),
    ]


def test_a_question_about_a_transfer_is_answered_not_started(say, stack, tracker):
    sender, meta = new_sender(), signed_in(stack)
    messages = say(sender, "how do I send money abroad?", meta)
    assert "Who would you like to send money to?" not in texts(messages)
    assert tracker(sender)["active_loop"] in ({}, None)
