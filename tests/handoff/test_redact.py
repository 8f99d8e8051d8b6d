"""Redaction of card numbers, emails and phone numbers; amounts, dates and ids survive."""

import pytest

from assistant.handoff.redact import redact, redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my card is 4539 1488 0343 6467 please", "my card is [card number] please"),
        ("card 4539148803436467", "card [card number]"),
        ("write to ava.patel+bank@example.co.uk today", "write to [email] today"),
        ("call me on +44 7700 900123 or 020 7946 0958", "call me on [phone] or [phone]"),
    ],
)
def test_personal_data_is_replaced(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "send £1,250.50 to Sam",
        "it was on 24/11/2026 at 10:30",
        "my card ending 4821",
        "1234 5678 9012 3456",  # sixteen digits that are not a card number (Luhn fails)
        "reference 20-45-12",
    ],
)
def test_other_numbers_survive(text):
    assert redact_text(text) == text


def test_structures_are_redacted_deeply():
    stored = {"transcript": [{"text": "email me at a@b.io", "score": 0.8}], "slots": {"n": 3}}
    assert redact(stored) == {
        "transcript": [{"text": "email me at [email]", "score": 0.8}],
        "slots": {"n": 3},
    }


def test_a_redacting_store_never_stores_the_personal_data(tmp_path):
    from assistant.handoff.store import HandoffStore

    store = HandoffStore(f"sqlite:///{tmp_path / 'h.db'}", redact=True)
    record = store.create(
        "c",
        reason="r",
        stage="s",
        transcript=[{"role": "user", "text": "my email is a@b.io"}],
        slots={"note": "card 4539 1488 0343 6467"},
        summary="Customer said: “my email is a@b.io”.",
    )
    stored = store.get(record.id)
    assert stored.transcript[0]["text"] == "my email is [email]"
    assert stored.slots["note"] == "card [card number]"
    assert "a@b.io" not in stored.summary


def test_account_facts_lose_amounts_and_card_digits_when_stored_redacted():
    from assistant.handoff.redact import redact_account_text, redact_transcript

    fact = "£25.00 to Alex Kim, on 1 December: failed. Card ending 1192: frozen"
    assert (
        redact_account_text(fact) == "[amount] to Alex Kim, on 1 December: failed. Card ending [card]: frozen"
    )
    turns = [
        {"role": "user", "text": "did my £25 transfer go through?"},
        {"role": "bot", "text": fact, "account": True},
        {"role": "bot", "text": "Send £25.00 to Alex Kim now?"},  # not from the account: as before
    ]
    stored = redact_transcript(turns)
    assert stored[1]["text"].startswith("[amount] to Alex Kim") and "1192" not in stored[1]["text"]
    assert stored[0]["text"] == turns[0]["text"] and stored[2]["text"] == turns[2]["text"]


def test_a_handoff_stored_redacted_keeps_no_account_amounts(tmp_path):
    from assistant.handoff.store import HandoffStore

    store = HandoffStore(f"sqlite:///{tmp_path / 'h.db'}", redact=True)
    problem = "top-up of £50.00 (Visa debit ending 0042) failed: issuer_declined"
    record = store.create(
        "c1",
        reason="customer_request",
        stage="information_gathering",
        transcript=[{"role": "bot", "text": "£50.00 from Visa debit ending 0042: failed", "account": True}],
        slots={"account_problem": problem},
        summary=f"Stage: information gathering. Account: {problem}. Reason: customer request.",
    )
    stored = store.get(record.id)
    for text in (stored.slots["account_problem"], stored.summary, stored.transcript[0]["text"]):
        assert "£50.00" not in text and "0042" not in text
    assert "issuer_declined" in stored.summary
