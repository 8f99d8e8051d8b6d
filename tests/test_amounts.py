"""Amounts as customers type them, read with text2num and price-parser."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.amounts import Amount, parse_amount


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("£40", "40.00"),
        ("40 quid", "40.00"),
        ("forty pounds", "40.00"),
        ("twenty five quid please", "25.00"),
        ("twelve pounds fifty", "12.50"),
        ("12.50", "12.50"),
        ("£1,250.50", "1250.50"),
        ("a tenner", "10.00"),
        ("a hundred and twenty", "120.00"),
        ("send £20 to Sam Carter", "20.00"),
        ("50, no wait, make it 30", "30.00"),  # a correction: the last amount counts
        ("make it 30 instead of 50", "30.00"),
        ("30, not 50", "30.00"),
    ],
)
def test_amounts_in_pounds(text, value):
    assert parse_amount(text) == Amount(Decimal(value), "GBP")


@pytest.mark.parametrize(("text", "currency"), [("€30", "EUR"), ("30 euros", "EUR"), ("$15", "USD")])
def test_other_currencies_are_named(text, currency):
    amount = parse_amount(text)
    assert amount is not None and amount.currency == currency and not amount.in_pounds


@pytest.mark.parametrize(
    "text", ["no", "Sam Carter", "my mum", "", "cust-ava-payee2", "sort code 04-00-04", "card 4821-x"]
)
def test_no_amount(text):
    assert parse_amount(text) is None
