"""Reading account questions: the topic, and the customer's own card, payee or merchant named.
These phrasings are the team's own (the benchmark's held-out ones live in bench/)."""

from __future__ import annotations

import pytest

from assistant.account.questions import read_account_question

NAMES = {
    "cards": ["1192", "3307"],
    "payees": ["Alex Kim", "Sam Carter", "Mum"],
    "merchants": ["Spotify", "Uber"],
}


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("what's my balance?", "balance"),
        ("how much money is in my account right now", "balance"),
        ("am I overdrawn?", "balance"),
        ("has my replacement card been dispatched?", "card_order"),
        ("I ordered a card on monday, when will it get here?", "card_order"),
        ("still haven't received my new card", "card_order"),
        ("is card 3307 active?", "cards"),
        ("which cards have I got?", "cards"),
        ("did my money to Sam arrive?", "transfers"),
        ("has the transfer I sent this morning gone through?", "transfers"),
        ("why did my payment to Alex fail?", "transfers"),
        ("why was my card declined at the shop?", "payments"),
        ("what happened to my Spotify payment", "payments"),
        ("is the purchase I made yesterday still pending?", "payments"),
        ("why did my top-up fail?", "topups"),
        ("did the money I added from my other bank go through?", "topups"),
        ("how many free withdrawals do I have left this month?", "plan"),
        ("what plan am I on?", "plan"),
    ],
)
def test_a_question_about_the_customers_own_account(text, topic):
    found = read_account_question(text, **NAMES)
    assert found is not None and found.topic == topic, found


@pytest.mark.parametrize(
    "text",
    [
        "how long does a card take to arrive?",  # how things work
        "how do I top up by bank transfer?",
        "what's the maximum I can transfer in a day?",
        "send £20 to my mum",  # a request to act, for the forms
        "freeze my card 1192",
        "please order me a new card",
        "what are your opening hours?",
        "can I use my card in Spain?",
    ],
)
def test_not_an_account_question(text):
    assert read_account_question(text, **NAMES) is None


def test_names_narrow_it_down_to_the_customers_own_records():
    assert read_account_question("is my card 1192 frozen?", **NAMES).last4 == "1192"
    assert read_account_question("is my card 5550 frozen?", **NAMES).last4 is None  # not theirs
    assert read_account_question("did my transfer to sam go through", **NAMES).payee == "Sam Carter"
    assert read_account_question("why was my spotify payment declined", **NAMES).merchant == "Spotify"
    assert read_account_question("why was my spotify payment declined", **NAMES).why


def test_the_knowledge_base_reading_gives_the_topic_when_no_cue_does():
    mapping = {"card_arrival": "card_order"}
    text = "my card is nowhere to be seen"
    assert read_account_question(text, **NAMES) is None
    found = read_account_question(text, article_topic=mapping, articles=["card_arrival"], **NAMES)
    assert found is not None and found.topic == "card_order"


def test_a_status_asked_about_one_thing_is_about_the_customers_own():
    assert read_account_question("replacement card posted yet?", **NAMES).topic == "card_order"
    assert read_account_question("has the transfer to sam gone through", **NAMES).payee == "Sam Carter"
    assert read_account_question("how long do transfers usually take to arrive?", **NAMES) is None
