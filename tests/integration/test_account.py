"""Answers from the customer's own account over the real stack (Rasa, the action server, the
seeded SQLite back office): balance, a card's status, a card on its way, a declined payment
explained, a transfer's status, an anonymous customer asked to sign in, and the proactive
opener after a failure, shown once and only to its customer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.backoffice import BackOffice
from tests.integration.conftest import custom, texts
from tests.integration.test_stages import new_sender, payloads, signed_in

pytestmark = pytest.mark.integration


def office(stack) -> BackOffice:
    return BackOffice(f"sqlite:///{stack.var_dir / 'backoffice.db'}")


def test_the_balance_is_stated_from_the_customers_own_account(say, stack):
    messages = say(new_sender(), "how much money have I got in my account?", signed_in(stack, "cust-ben"))
    balance = office(stack).account("cust-ben").balance
    assert f"£{balance:,.2f}" in texts(messages)
    assert custom(messages, "account")["topic"] == "balance"
    assert "/request_human" in payloads(messages)


def test_a_cards_status_is_answered_not_a_freeze_started(say, stack, tracker):
    sender = new_sender()
    messages = say(sender, "is my card 1192 still frozen?", signed_in(stack, "cust-ben"))
    assert "ending 1192: **frozen**" in texts(messages)
    assert tracker(sender)["active_loop"] in ({}, None) or not tracker(sender)["active_loop"].get("name")


def test_a_card_on_its_way_gives_its_dates(say, stack):
    messages = say(new_sender(), "has my new card been posted yet?", signed_in(stack, "cust-ava"))
    assert "ending 5012" in texts(messages) and "standard delivery" in texts(messages)


def test_a_declined_payment_is_explained_with_its_reason(say, stack):
    messages = say(new_sender(), "why did my card payment get declined?", signed_in(stack, "cust-ben"))
    assert "Spotify" in texts(messages) and "enough money" in texts(messages)


def test_a_transfers_status_and_a_follow_up_why(say, stack):
    sender, meta = new_sender(), signed_in(stack, "cust-ben")
    messages = say(sender, "did my transfer to Alex go through?", meta)
    assert "to Alex Kim" in texts(messages) and "failed" in texts(messages)
    assert "/make_transfer" in payloads(messages)
    messages = say(sender, "how come?", meta)
    assert custom(messages, "account")["topic"] == "transfers"
    assert "enough money" in texts(messages)


def test_an_anonymous_customer_is_asked_to_sign_in(say, stack):
    messages = say(new_sender(), "how much money have I got in my account?")
    assert "sign in" in texts(messages) and "£" not in texts(messages)
    assert custom(messages, "account") == {"topic": "balance", "sign_in": True}


def test_the_proactive_opener_is_shown_once_and_only_to_its_customer(say, stack):
    failure = office(stack).add_failure(
        "cust-chloe", "payment", Decimal("64.10"), "insufficient_funds", what="Fnac"
    )
    first = say(new_sender(), "/greet", signed_in(stack, "cust-chloe"))
    assert "£64.10 at Fnac" in texts(first)
    assert custom(first, "proactive")["id"] == failure.id
    again = say(new_sender(), "/greet", signed_in(stack, "cust-chloe"))
    assert "Fnac" not in texts(again)  # shown once
    other = say(new_sender(), "/greet", signed_in(stack, "cust-ava"))
    assert "Fnac" not in texts(other)
    anonymous = say(new_sender(), "/greet")
    assert "Fnac" not in texts(anonymous) and "£" not in texts(anonymous)
