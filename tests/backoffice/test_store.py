"""The demo back office, for real, on a SQLite file: ownership, refusals with reasons and next
steps, and the money arithmetic."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from assistant.backoffice.store import BackOffice, Refusal


@pytest.fixture
def office(tmp_path: Path) -> BackOffice:
    office = BackOffice(f"sqlite:///{tmp_path / 'backoffice.db'}")
    assert office.seed_demo() is True
    assert office.seed_demo() is False  # only once
    return office


def test_demo_customers_are_seeded(office: BackOffice) -> None:
    assert office.customer_name("cust-ava") == "Ava Patel"
    assert [c.last4 for c in office.cards("cust-ava")] == ["4821", "7730"]
    assert office.account("cust-ben").balance == Decimal("18.40")


def test_freeze_a_card_and_refuse_to_freeze_it_twice(office: BackOffice) -> None:
    card = office.freeze_card("cust-ava", "cust-ava-card1", "lost")
    assert card.status == "frozen"
    assert office.cards("cust-ava", "frozen")[0].id == "cust-ava-card1"
    with pytest.raises(Refusal) as exc:
        office.freeze_card("cust-ava", "cust-ava-card1")
    assert exc.value.code == "already_frozen"
    assert exc.value.params == {"last4": "4821"}


def test_a_customer_cannot_touch_another_customers_card_or_payee(office: BackOffice) -> None:
    with pytest.raises(Refusal) as exc:
        office.freeze_card("cust-ben", "cust-ava-card1")
    assert exc.value.code == "unknown_card"
    assert office.cards("cust-ava", "active")[0].status == "active"
    with pytest.raises(Refusal) as exc:
        office.transfer("cust-ben", "cust-ava-payee1", Decimal("1"))
    assert exc.value.code == "unknown_payee"


def test_transfer_moves_money_and_refuses_without_funds(office: BackOffice) -> None:
    done = office.transfer("cust-ava", "cust-ava-payee1", Decimal("50.25"), "rent")
    assert done.balance_after == Decimal("2399.75")
    assert office.account("cust-ava").balance == Decimal("2399.75")
    with pytest.raises(Refusal) as exc:
        office.transfer("cust-ben", "cust-ben-payee1", Decimal("50"))
    assert exc.value.code == "insufficient_funds"
    assert exc.value.params == {"balance": "£18.40", "amount": "£50.00", "what": "transfer"}
    assert office.account("cust-ben").balance == Decimal("18.40")  # nothing left half-done


def test_daily_transfer_limit(office: BackOffice) -> None:
    office.seed_demo(reset=True)
    with pytest.raises(Refusal) as exc:
        office.transfer("cust-ava", "cust-ava-payee1", Decimal("25000.01"))
    assert exc.value.code in ("daily_limit", "insufficient_funds")


def test_order_cards_with_fees_and_limits(office: BackOffice) -> None:
    virtual = office.order_card("cust-ava", "virtual")
    assert virtual.card.status == "active" and virtual.fee == 0
    # Ava is on Premium: replacement and express are free
    physical = office.order_card("cust-ava", "physical", "express")
    assert physical.fee == 0 and physical.card.status == "ordered" and physical.working_days == "2"
    # Ben (Standard, £18.40) pays £5 + £4.99 for a replacement by express
    order = office.order_card("cust-ben", "physical", "express")
    assert order.fee == Decimal("9.99")
    assert office.account("cust-ben").balance == Decimal("8.41")
    with pytest.raises(Refusal) as exc:
        office.order_card("cust-ben", "physical", "express")
    assert exc.value.code == "insufficient_funds"
    # Chloe already has 3 physical cards, and lives in France
    with pytest.raises(Refusal) as exc:
        office.order_card("cust-chloe", "physical")
    assert exc.value.code == "card_limit"
