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
    assert [c.last4 for c in office.cards("cust-ava")] == ["4821", "7730", "5012"]  # 5012 on order
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


# ---- reading the customer's own account (read-only answers) ---------------------------------
def test_recent_activity_is_seeded_and_read_newest_first(office: BackOffice) -> None:
    payments = office.payments("cust-ben")
    assert [p.merchant for p in payments] == ["Spotify", "Co-op", "Uber"]
    assert payments[0].status == "declined" and payments[0].reason == "insufficient_funds"
    assert payments[0].card_last4 == "3307"
    transfers = office.transfers("cust-ben")
    assert [(t.payee, t.status) for t in transfers] == [("Alex Kim", "failed"), ("Alex Kim", "completed")]
    assert office.topups("cust-ben")[0].source == "Visa debit ending 0042"
    order = next(c for c in office.cards("cust-ava") if c.status == "ordered")
    assert order.last4 == "5012" and order.delivery == "standard"
    assert (
        order.dispatched_at is not None
        and order.expected_by is not None
        and order.expected_by > order.dispatched_at
    )
    frozen = office.cards("cust-ben", "frozen")[0]
    assert frozen.note == "lost" and frozen.changed_at is not None


def test_reads_are_scoped_to_the_customer(office: BackOffice) -> None:
    ava = {p.id for p in office.payments("cust-ava", limit=50)}
    ben = {p.id for p in office.payments("cust-ben", limit=50)}
    assert ava and ben and not ava & ben
    assert all(t.payee in ("Sam Carter", "Mum") for t in office.transfers("cust-ava", limit=50))
    assert office.payments("nobody") == [] and office.plan_usage("nobody") is None


def test_plan_allowances_used_this_month(office: BackOffice) -> None:
    chloe = office.plan_usage("cust-chloe")
    assert chloe.plan == "plus" and chloe.atm_used == Decimal("350.00") and chloe.atm_left == Decimal("50.00")
    assert chloe.exchange_left == Decimal("550.00")
    ava = office.plan_usage("cust-ava")
    assert ava.exchange_allowance is None and ava.exchange_left is None  # Premium: no limit


def test_failures_and_a_failure_added_for_a_demo(office: BackOffice) -> None:
    import datetime as dt

    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    assert [(f.kind, f.reason) for f in office.failures("cust-ben", since)] == [
        ("topup", "issuer_declined"),
        ("payment", "insufficient_funds"),
        ("transfer", "insufficient_funds"),
    ]
    added = office.add_failure("cust-ava", "transfer", Decimal("30"), "payee_account_closed", what="sam")
    assert added.what == "Sam Carter" and office.failures("cust-ava", since)[0].id == added.id
    assert office.transfers("cust-ava")[0].status == "failed"
    with pytest.raises(ValueError):
        office.add_failure("cust-ava", "mortgage", Decimal("1"), "x")
    with pytest.raises(Refusal):
        office.add_failure("nobody", "payment", Decimal("1"), "x")


def test_a_card_order_records_its_delivery_and_expected_date(office: BackOffice) -> None:
    order = office.order_card("cust-ava", "physical", "express")
    card = next(c for c in office.cards("cust-ava") if c.id == order.card.id)
    assert card.delivery == "express" and card.expected_by is not None
    assert (card.expected_by - card.ordered_at).days >= 2


def test_a_failed_transfer_does_not_count_against_the_daily_limit(office: BackOffice) -> None:
    office.add_failure("cust-ava", "transfer", Decimal("24990"), "payee_account_closed")
    office.transfer("cust-ava", "cust-ava-payee1", Decimal("100"))  # would be over if it counted


def test_activity_is_added_to_a_back_office_seeded_before_it_existed(tmp_path: Path) -> None:
    from sqlalchemy import delete

    from assistant.backoffice.store import PaymentRow, TopUpRow

    office = BackOffice(f"sqlite:///{tmp_path / 'old.db'}")
    office.seed_demo()
    with office._session.begin() as s:
        s.execute(delete(PaymentRow))
        s.execute(delete(TopUpRow))
    assert office.seed_demo() is True and office.payments("cust-ben")
