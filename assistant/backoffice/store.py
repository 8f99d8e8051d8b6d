"""The demo bank's back office in SQL (SQLite by default), read and written only through here.

Every operation takes the customer id first and only ever touches that customer's rows, so an
action that verified the customer's token cannot act on anyone else's card or account. When the
bank says no (not enough money, card already frozen, card limit reached), the operation raises
:class:`Refusal` with a code and its parameters, never sentences: the words are the domain's.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from assistant.db import as_utc, open_database, take_turns, utc_now

SEED_LOCK = 0x6B62616E  # "kban": the advisory lock held while the demo is seeded (PostgreSQL)

CARD_KINDS = ("physical", "virtual")
DELIVERIES = ("standard", "express")
MAX_PHYSICAL_CARDS = 3
MAX_VIRTUAL_CARDS = 3
DAILY_TRANSFER_LIMIT = Decimal("25000")
# Free each month, per plan: (ATM withdrawals, currency exchange); None is no limit (docs/demo-bank.md)
PLAN_ALLOWANCES: dict[str, tuple[Decimal | None, Decimal | None]] = {
    "standard": (Decimal("200"), Decimal("1000")),
    "plus": (Decimal("400"), Decimal("3000")),
    "premium": (Decimal("800"), None),
    "metal": (Decimal("800"), None),
}
DELIVERY_WORKING_DAYS = {"express": 2, "standard": 5, "abroad": 10}
REPLACEMENT_FEE = Decimal("5")
EXPRESS_FEE = Decimal("4.99")


class Base(DeclarativeBase):
    pass


class CustomerRow(Base):
    __tablename__ = "customers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    plan: Mapped[str] = mapped_column(String(32), default="standard")
    country: Mapped[str] = mapped_column(String(2), default="GB")


class AccountRow(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="Main account")
    balance_minor: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")


class CardRow(Base):
    __tablename__ = "cards"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    last4: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16))
    # active frozen ordered expired cancelled
    status: Mapped[str] = mapped_column(String(16), default="active")
    note: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivery: Mapped[str] = mapped_column(String(16), default="")  # an ordered card: standard express
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expected_by: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PayeeRow(Base):
    __tablename__ = "payees"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    sort_code: Mapped[str] = mapped_column(String(8))
    account_number: Mapped[str] = mapped_column(String(8))


class TransferRow(Base):
    __tablename__ = "transfers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    payee_id: Mapped[str] = mapped_column(ForeignKey("payees.id"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(18), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    status: Mapped[str] = mapped_column(String(16), default="completed")  # pending completed failed
    reason: Mapped[str] = mapped_column(String(32), default="")  # why it failed: a code
    expected_by: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PaymentRow(Base):
    """Money going out by card: a card payment, a cash withdrawal or an exchange in the app."""

    __tablename__ = "payments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    card_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="card")  # card atm exchange
    merchant: Mapped[str] = mapped_column(String(128), default="")
    amount_minor: Mapped[int] = mapped_column(Integer)  # in pounds
    original: Mapped[str] = mapped_column(String(32), default="")  # "€120.00" when not in pounds
    status: Mapped[str] = mapped_column(
        String(16), default="completed"
    )  # pending completed declined reverted
    reason: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class TopUpRow(Base):
    __tablename__ = "topups"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    method: Mapped[str] = mapped_column(String(16), default="card")  # card bank_transfer wallet
    source: Mapped[str] = mapped_column(String(64), default="")  # "Visa debit ending 0042"
    amount_minor: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="completed")  # pending completed failed reverted
    reason: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@dataclass(frozen=True)
class Card:
    id: str
    last4: str
    kind: str
    status: str
    note: str = ""
    changed_at: dt.datetime | None = None  # when it was frozen (or last changed)
    delivery: str = ""  # an ordered card's delivery: standard express
    ordered_at: dt.datetime | None = None
    dispatched_at: dt.datetime | None = None
    expected_by: dt.datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()} card ending {self.last4}"


@dataclass(frozen=True)
class Payee:
    id: str
    name: str
    sort_code: str
    account_number: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.sort_code}, ****{self.account_number[-4:]})"


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    balance: Decimal
    status: str


@dataclass(frozen=True)
class Transfer:
    id: str
    payee: Payee
    amount: Decimal
    reference: str
    balance_after: Decimal


@dataclass(frozen=True)
class Payment:
    id: str
    kind: str  # card atm exchange
    merchant: str
    amount: Decimal
    original: str  # the amount in the currency paid, when not pounds
    status: str  # pending completed declined reverted
    reason: str  # a code, "" when nothing went wrong
    at: dt.datetime
    card_last4: str = ""


@dataclass(frozen=True)
class TransferRecord:
    id: str
    payee: str
    amount: Decimal
    reference: str
    status: str  # pending completed failed
    reason: str
    at: dt.datetime
    expected_by: dt.datetime | None = None


@dataclass(frozen=True)
class TopUp:
    id: str
    method: str
    source: str
    amount: Decimal
    status: str  # pending completed failed reverted
    reason: str
    at: dt.datetime


@dataclass(frozen=True)
class PlanUsage:
    """The plan and its allowances used this month; an allowance of None has no limit."""

    plan: str
    atm_used: Decimal
    atm_allowance: Decimal | None
    exchange_used: Decimal
    exchange_allowance: Decimal | None

    @property
    def atm_left(self) -> Decimal | None:
        return None if self.atm_allowance is None else max(self.atm_allowance - self.atm_used, Decimal(0))

    @property
    def exchange_left(self) -> Decimal | None:
        if self.exchange_allowance is None:
            return None
        return max(self.exchange_allowance - self.exchange_used, Decimal(0))


@dataclass(frozen=True)
class Failure:
    """A failed operation of the customer's: a declined payment, a failed transfer or top-up."""

    kind: str  # payment transfer topup
    id: str
    amount: Decimal
    reason: str
    at: dt.datetime
    what: str  # the merchant, the payee or the top-up's source


@dataclass(frozen=True)
class CardOrder:
    card: Card
    delivery: str
    fee: Decimal
    working_days: str  # how long delivery takes: "2", "3 to 5", "10"; "0" for a virtual card


class Refusal(Exception):
    """The back office said no: a ``code`` and the ``params`` that explain it (balance, limit,
    card digits). The words the customer reads are the domain's ``utter_refusal_<code>``."""

    def __init__(self, code: str, **params: str):
        self.code, self.params = code, params
        super().__init__(f"{code}: {params}" if params else code)


def _minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _major(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(Decimal("0.01"))


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """``days`` working days (Monday to Friday) after ``start``."""
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def pounds(amount: Decimal) -> str:
    return f"£{amount:,.2f}"


class BackOffice:
    def __init__(self, url: str):
        self.engine, self._session = open_database(url, Base.metadata)

    # ---- reading -----------------------------------------------------------------------------
    def customer_name(self, customer_id: str) -> str | None:
        with self._session() as s:
            row = s.get(CustomerRow, customer_id)
            return row.name if row else None

    def plan(self, customer_id: str) -> str | None:
        with self._session() as s:
            row = s.get(CustomerRow, customer_id)
            return row.plan if row else None

    def cards(self, customer_id: str, *statuses: str) -> list[Card]:
        with self._session() as s:
            query = select(CardRow).where(CardRow.customer_id == customer_id).order_by(CardRow.created_at)
            if statuses:
                query = query.where(CardRow.status.in_(statuses))
            return [self._card(r) for r in s.scalars(query)]

    def payees(self, customer_id: str) -> list[Payee]:
        with self._session() as s:
            rows = s.scalars(
                select(PayeeRow).where(PayeeRow.customer_id == customer_id).order_by(PayeeRow.name)
            )
            return [Payee(r.id, r.name, r.sort_code, r.account_number) for r in rows]

    def account(self, customer_id: str) -> Account | None:
        with self._session() as s:
            row = s.scalars(select(AccountRow).where(AccountRow.customer_id == customer_id)).first()
            return Account(row.id, row.name, _major(row.balance_minor), row.status) if row else None

    def payments(
        self, customer_id: str, *, kinds: tuple[str, ...] = ("card",), limit: int = 5
    ) -> list[Payment]:
        """The customer's newest payments of ``kinds`` (card, atm, exchange), newest first."""
        with self._session() as s:
            cards = {
                r.id: r.last4 for r in s.scalars(select(CardRow).where(CardRow.customer_id == customer_id))
            }
            rows = s.scalars(
                select(PaymentRow)
                .where(PaymentRow.customer_id == customer_id, PaymentRow.kind.in_(kinds))
                .order_by(PaymentRow.created_at.desc())
                .limit(limit)
            )
            return [
                Payment(
                    r.id,
                    r.kind,
                    r.merchant,
                    _major(r.amount_minor),
                    r.original,
                    r.status,
                    r.reason,
                    as_utc(r.created_at),
                    cards.get(r.card_id or "", ""),
                )
                for r in rows
            ]

    def transfers(self, customer_id: str, *, limit: int = 5) -> list[TransferRecord]:
        """The customer's newest transfers, newest first, with the payee's name."""
        with self._session() as s:
            rows = s.execute(
                select(TransferRow, PayeeRow.name)
                .join(PayeeRow, PayeeRow.id == TransferRow.payee_id)
                .where(TransferRow.customer_id == customer_id)
                .order_by(TransferRow.created_at.desc())
                .limit(limit)
            ).all()
            return [
                TransferRecord(
                    t.id,
                    name,
                    _major(t.amount_minor),
                    t.reference,
                    t.status,
                    t.reason,
                    as_utc(t.created_at),
                    as_utc(t.expected_by) if t.expected_by else None,
                )
                for t, name in rows
            ]

    def topups(self, customer_id: str, *, limit: int = 5) -> list[TopUp]:
        with self._session() as s:
            rows = s.scalars(
                select(TopUpRow)
                .where(TopUpRow.customer_id == customer_id)
                .order_by(TopUpRow.created_at.desc())
                .limit(limit)
            )
            return [
                TopUp(
                    r.id, r.method, r.source, _major(r.amount_minor), r.status, r.reason, as_utc(r.created_at)
                )
                for r in rows
            ]

    def plan_usage(self, customer_id: str, now: dt.datetime | None = None) -> PlanUsage | None:
        """The plan, and how much of its free ATM and exchange allowances this month has used."""
        now = now or utc_now()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        with self._session() as s:
            customer = s.get(CustomerRow, customer_id)
            if customer is None:
                return None
            used = dict(
                s.execute(
                    select(PaymentRow.kind, func.coalesce(func.sum(PaymentRow.amount_minor), 0))
                    .where(
                        PaymentRow.customer_id == customer_id,
                        PaymentRow.kind.in_(("atm", "exchange")),
                        PaymentRow.status == "completed",
                        PaymentRow.created_at >= month,
                    )
                    .group_by(PaymentRow.kind)
                ).all()
            )
        atm, exchange = PLAN_ALLOWANCES.get(customer.plan, (None, None))
        return PlanUsage(
            customer.plan,
            _major(int(used.get("atm", 0))),
            atm,
            _major(int(used.get("exchange", 0))),
            exchange,
        )

    def failures(self, customer_id: str, since: dt.datetime) -> list[Failure]:
        """What failed for the customer since ``since``, newest first: declined or reverted
        payments, failed transfers, failed or reverted top-ups."""
        found: list[Failure] = []
        with self._session() as s:
            for p in s.scalars(
                select(PaymentRow).where(
                    PaymentRow.customer_id == customer_id,
                    PaymentRow.status.in_(("declined", "reverted")),
                    PaymentRow.created_at >= since,
                )
            ):
                found.append(
                    Failure(
                        "payment", p.id, _major(p.amount_minor), p.reason, as_utc(p.created_at), p.merchant
                    )
                )
            for t, name in s.execute(
                select(TransferRow, PayeeRow.name)
                .join(PayeeRow, PayeeRow.id == TransferRow.payee_id)
                .where(
                    TransferRow.customer_id == customer_id,
                    TransferRow.status == "failed",
                    TransferRow.created_at >= since,
                )
            ).all():
                found.append(
                    Failure("transfer", t.id, _major(t.amount_minor), t.reason, as_utc(t.created_at), name)
                )
            for u in s.scalars(
                select(TopUpRow).where(
                    TopUpRow.customer_id == customer_id,
                    TopUpRow.status.in_(("failed", "reverted")),
                    TopUpRow.created_at >= since,
                )
            ):
                found.append(
                    Failure("topup", u.id, _major(u.amount_minor), u.reason, as_utc(u.created_at), u.source)
                )
        return sorted(found, key=lambda f: f.at, reverse=True)

    def add_failure(
        self,
        customer_id: str,
        kind: str,
        amount: Decimal,
        reason: str,
        *,
        what: str = "",
        at: dt.datetime | None = None,
    ) -> Failure:
        """Record a failed operation (for demos): a declined card ``payment`` at ``what`` (a
        merchant), a failed ``transfer`` to ``what`` (a payee's name) or a failed ``topup`` from
        ``what`` (a card)."""
        at = at or utc_now()
        if amount <= 0:
            raise ValueError("the amount must be more than 0")
        with self._session.begin() as s:
            self._customer(s, customer_id)
            new_id = f"{kind[:2]}_{secrets.token_hex(6)}"
            if kind == "payment":
                card = s.scalars(
                    select(CardRow).where(CardRow.customer_id == customer_id, CardRow.status == "active")
                ).first()
                s.add(
                    PaymentRow(
                        id=new_id,
                        customer_id=customer_id,
                        card_id=card.id if card else None,
                        merchant=what or "Online shop",
                        amount_minor=_minor(amount),
                        status="declined",
                        reason=reason,
                        created_at=at,
                    )
                )
            elif kind == "transfer":
                payees = list(s.scalars(select(PayeeRow).where(PayeeRow.customer_id == customer_id)))
                payee = next((p for p in payees if what and what.lower() in p.name.lower()), None)
                payee = payee or (payees[0] if payees else None)
                if payee is None:
                    raise ValueError(f"{customer_id} has no payees")
                account = s.scalars(select(AccountRow).where(AccountRow.customer_id == customer_id)).first()
                if account is None:
                    raise ValueError(f"{customer_id} has no account")
                what = payee.name
                s.add(
                    TransferRow(
                        id=new_id,
                        customer_id=customer_id,
                        account_id=account.id,
                        payee_id=payee.id,
                        amount_minor=_minor(amount),
                        status="failed",
                        reason=reason,
                        created_at=at,
                    )
                )
            elif kind == "topup":
                what = what or "debit card"
                s.add(
                    TopUpRow(
                        id=new_id,
                        customer_id=customer_id,
                        method="card",
                        source=what,
                        amount_minor=_minor(amount),
                        status="failed",
                        reason=reason,
                        created_at=at,
                    )
                )
            else:
                raise ValueError(f"unknown kind {kind!r}: payment, transfer or topup")
        return Failure(kind, new_id, amount.quantize(Decimal("0.01")), reason, at, what)

    # ---- writing -----------------------------------------------------------------------------
    def freeze_card(self, customer_id: str, card_id: str, reason: str = "") -> Card:
        with self._session.begin() as s:
            row = self._own_card(s, customer_id, card_id)
            if row.status == "frozen":
                raise Refusal("already_frozen", last4=row.last4)
            if row.status in ("cancelled", "ordered"):
                raise Refusal("not_active", last4=row.last4, status=row.status)
            row.status, row.note, row.changed_at = "frozen", reason[:128], utc_now()
            return self._card(row)

    def order_card(self, customer_id: str, kind: str, delivery: str = "standard") -> CardOrder:
        if kind not in CARD_KINDS:
            raise ValueError(f"unknown card kind {kind!r}")
        if delivery not in DELIVERIES:
            raise ValueError(f"unknown delivery {delivery!r}")
        with self._session.begin() as s:
            customer = self._customer(s, customer_id)
            live = s.scalar(
                select(func.count())
                .select_from(CardRow)
                .where(
                    CardRow.customer_id == customer_id,
                    CardRow.kind == kind,
                    CardRow.status.in_(("active", "ordered", "frozen")),
                )
            )
            if kind == "physical" and delivery == "express" and customer.country != "GB":
                raise Refusal("express_uk_only")  # said first: it is about what was chosen just now
            limit = MAX_PHYSICAL_CARDS if kind == "physical" else MAX_VIRTUAL_CARDS
            if (live or 0) >= limit:
                raise Refusal("card_limit", count=str(live), kind=kind)
            fee = Decimal("0")
            working_days = "0"
            if kind == "physical":
                had_card = s.scalar(
                    select(func.count())
                    .select_from(CardRow)
                    .where(CardRow.customer_id == customer_id, CardRow.kind == "physical")
                )
                premium = customer.plan in ("premium", "metal")
                if had_card and not premium:
                    fee += REPLACEMENT_FEE
                if delivery == "express" and not premium:
                    fee += EXPRESS_FEE
                working_days = (
                    "2" if delivery == "express" else ("3 to 5" if customer.country == "GB" else "10")
                )
            if fee:
                account = self._debit(s, customer_id, fee, what="card_fee")
                account.balance_minor -= _minor(fee)
            now = utc_now()
            row = CardRow(
                id=f"card_{secrets.token_hex(6)}",
                customer_id=customer_id,
                last4=f"{secrets.randbelow(10_000):04d}",
                kind=kind,
                status="ordered" if kind == "physical" else "active",
                created_at=now,
            )
            if kind == "physical":
                row.delivery = delivery
                days = DELIVERY_WORKING_DAYS["abroad" if customer.country != "GB" else delivery]
                row.expected_by = add_working_days(now, days)
            s.add(row)
            s.flush()
            return CardOrder(
                self._card(row), delivery if kind == "physical" else "instant", fee, working_days
            )

    def transfer(self, customer_id: str, payee_id: str, amount: Decimal, reference: str = "") -> Transfer:
        if amount <= 0:
            raise Refusal("bad_amount")
        with self._session.begin() as s:
            payee = s.get(PayeeRow, payee_id)
            if payee is None or payee.customer_id != customer_id:
                raise Refusal("unknown_payee")
            today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
            sent_today = s.scalar(
                select(func.coalesce(func.sum(TransferRow.amount_minor), 0)).where(
                    TransferRow.customer_id == customer_id,
                    TransferRow.created_at >= today,
                    TransferRow.status != "failed",
                )
            )
            if _minor(amount) + int(sent_today or 0) > _minor(DAILY_TRANSFER_LIMIT):
                left = DAILY_TRANSFER_LIMIT - _major(int(sent_today or 0))
                raise Refusal("daily_limit", limit=pounds(DAILY_TRANSFER_LIMIT), left=pounds(left))
            account = self._debit(s, customer_id, amount, what="transfer")
            account.balance_minor -= _minor(amount)
            row = TransferRow(
                id=f"tr_{secrets.token_hex(6)}",
                customer_id=customer_id,
                account_id=account.id,
                payee_id=payee.id,
                amount_minor=_minor(amount),
                reference=reference[:18],
            )
            s.add(row)
            return Transfer(
                row.id,
                Payee(payee.id, payee.name, payee.sort_code, payee.account_number),
                amount,
                row.reference,
                _major(account.balance_minor),
            )

    # ---- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _card(row: CardRow) -> Card:
        def utc(value: dt.datetime | None) -> dt.datetime | None:
            return as_utc(value) if value else None

        return Card(
            row.id,
            row.last4,
            row.kind,
            row.status,
            row.note,
            changed_at=utc(row.changed_at),
            delivery=row.delivery or "",
            ordered_at=utc(row.created_at) if row.status == "ordered" or row.delivery else None,
            dispatched_at=utc(row.dispatched_at),
            expected_by=utc(row.expected_by),
        )

    @staticmethod
    def _customer(s: Session, customer_id: str) -> CustomerRow:
        row = s.get(CustomerRow, customer_id)
        if row is None:
            raise Refusal("unknown_customer")
        return row

    @staticmethod
    def _own_card(s: Session, customer_id: str, card_id: str) -> CardRow:
        row = s.get(CardRow, card_id)
        if row is None or row.customer_id != customer_id:
            raise Refusal("unknown_card")
        return row

    @staticmethod
    def _debit(s: Session, customer_id: str, amount: Decimal, *, what: str) -> AccountRow:
        account = s.scalars(select(AccountRow).where(AccountRow.customer_id == customer_id)).first()
        if account is None:
            raise Refusal("no_account")
        if account.status != "active":
            raise Refusal("account_frozen")
        if _minor(amount) > account.balance_minor:
            raise Refusal(
                "insufficient_funds",
                balance=pounds(_major(account.balance_minor)),
                amount=pounds(amount),
                what=what,
            )
        return account

    # ---- demo data ---------------------------------------------------------------------------
    def seed_demo(self, *, reset: bool = False) -> bool:
        """Create the demo customers when the database is empty (or ``reset``), and their recent
        activity when a database made before it existed has none. True if anything was seeded."""
        from assistant.backoffice.demo import DEMO_CUSTOMERS

        with self._session.begin() as s:
            take_turns(s, SEED_LOCK)  # two action servers starting together seed once
            if reset:
                for table in (PaymentRow, TopUpRow, TransferRow, PayeeRow, CardRow, AccountRow, CustomerRow):
                    s.query(table).delete()
            elif s.scalar(select(func.count()).select_from(CustomerRow)):
                if s.scalar(select(func.count()).select_from(PaymentRow)):
                    return False
                for customer in DEMO_CUSTOMERS:
                    if s.get(CustomerRow, customer["id"]) is not None:
                        self._seed_activity(s, customer)
                return True
            for customer in DEMO_CUSTOMERS:
                cid = customer["id"]
                s.add(
                    CustomerRow(
                        id=cid, name=customer["name"], plan=customer["plan"], country=customer["country"]
                    )
                )
                s.flush()  # the customer row first: accounts, cards and payees refer to it
                s.add(
                    AccountRow(
                        id=f"{cid}-main",
                        customer_id=cid,
                        balance_minor=_minor(Decimal(customer["balance"])),
                        status=customer.get("account_status", "active"),
                    )
                )
                for i, (last4, kind, status) in enumerate(customer["cards"]):
                    s.add(
                        CardRow(
                            id=f"{cid}-card{i + 1}",
                            customer_id=cid,
                            last4=last4,
                            kind=kind,
                            status=status,
                            created_at=utc_now() - dt.timedelta(days=400 - i),
                        )
                    )
                for i, (name, sort_code, number) in enumerate(customer["payees"]):
                    s.add(
                        PayeeRow(
                            id=f"{cid}-payee{i + 1}",
                            customer_id=cid,
                            name=name,
                            sort_code=sort_code,
                            account_number=number,
                        )
                    )
                s.flush()
                self._seed_activity(s, customer)
        return True

    @staticmethod
    def _seed_activity(s: Session, customer: dict[str, Any]) -> None:
        """A demo customer's orders, payments, transfers and top-ups, dated relative to now
        (merged by id: seeding twice leaves one of each)."""
        cid, now = customer["id"], utc_now()

        def ago(hours: float) -> dt.datetime:
            return now - dt.timedelta(hours=hours)

        cards = {r.last4: r for r in s.scalars(select(CardRow).where(CardRow.customer_id == cid))}
        for last4, frozen in (customer.get("frozen") or {}).items():
            if last4 in cards:
                cards[last4].note, cards[last4].changed_at = frozen["note"], ago(frozen["ago"])
        for i, order in enumerate(customer.get("ordered") or []):
            dispatched = ago(order["dispatched_ago"]) if order.get("dispatched_ago") is not None else None
            s.merge(
                CardRow(
                    id=f"{cid}-order{i + 1}",
                    customer_id=cid,
                    last4=order["last4"],
                    kind="physical",
                    status="ordered",
                    created_at=ago(order["ago"]),
                    delivery=order["delivery"],
                    dispatched_at=dispatched,
                    expected_by=add_working_days(dispatched or ago(order["ago"]), order["working_days"]),
                )
            )
        for i, p in enumerate(customer.get("payments") or []):
            card = cards.get(p.get("card", ""))
            s.merge(
                PaymentRow(
                    id=f"{cid}-pay{i + 1}",
                    customer_id=cid,
                    card_id=card.id if card else None,
                    merchant=p["merchant"],
                    amount_minor=_minor(Decimal(p["amount"])),
                    original=p.get("original", ""),
                    status=p.get("status", "completed"),
                    reason=p.get("reason", ""),
                    created_at=ago(p["ago"]),
                )
            )
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        for kind, amount in (customer.get("month") or {}).items():
            if Decimal(amount) > 0:
                s.merge(
                    PaymentRow(
                        id=f"{cid}-{kind}-month",
                        customer_id=cid,
                        kind=kind,
                        merchant="ATM withdrawals" if kind == "atm" else "Exchange in the app",
                        amount_minor=_minor(Decimal(amount)),
                        created_at=month_start + (now - month_start) / 2,
                    )
                )
        payees = {r.name: r for r in s.scalars(select(PayeeRow).where(PayeeRow.customer_id == cid))}
        account_id = f"{cid}-main"
        for i, t in enumerate(customer.get("transfers") or []):
            due = t.get("due_in_hours")
            s.merge(
                TransferRow(
                    id=f"{cid}-tr{i + 1}",
                    customer_id=cid,
                    account_id=account_id,
                    payee_id=payees[t["payee"]].id,
                    amount_minor=_minor(Decimal(t["amount"])),
                    reference=t.get("reference", ""),
                    status=t.get("status", "completed"),
                    reason=t.get("reason", ""),
                    created_at=ago(t["ago"]),
                    expected_by=ago(t["ago"] - due) if due is not None else None,
                )
            )
        for i, u in enumerate(customer.get("topups") or []):
            s.merge(
                TopUpRow(
                    id=f"{cid}-top{i + 1}",
                    customer_id=cid,
                    method=u["method"],
                    source=u["source"],
                    amount_minor=_minor(Decimal(u["amount"])),
                    status=u.get("status", "completed"),
                    reason=u.get("reason", ""),
                    created_at=ago(u["ago"]),
                )
            )
