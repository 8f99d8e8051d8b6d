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

from sqlalchemy import DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from assistant.db import open_database, utc_now

CARD_KINDS = ("physical", "virtual")
DELIVERIES = ("standard", "express")
MAX_PHYSICAL_CARDS = 3
MAX_VIRTUAL_CARDS = 3
DAILY_TRANSFER_LIMIT = Decimal("25000")
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
    status: Mapped[str] = mapped_column(String(16), default="active")  # active frozen ordered cancelled
    note: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


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


@dataclass(frozen=True)
class Card:
    id: str
    last4: str
    kind: str
    status: str
    note: str = ""

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

    # ---- writing -----------------------------------------------------------------------------
    def freeze_card(self, customer_id: str, card_id: str, reason: str = "") -> Card:
        with self._session.begin() as s:
            row = self._own_card(s, customer_id, card_id)
            if row.status == "frozen":
                raise Refusal("already_frozen", last4=row.last4)
            if row.status in ("cancelled", "ordered"):
                raise Refusal("not_active", last4=row.last4, status=row.status)
            row.status, row.note = "frozen", reason[:128]
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
            row = CardRow(
                id=f"card_{secrets.token_hex(6)}",
                customer_id=customer_id,
                last4=f"{secrets.randbelow(10_000):04d}",
                kind=kind,
                status="ordered" if kind == "physical" else "active",
            )
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
                    TransferRow.customer_id == customer_id, TransferRow.created_at >= today
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
        return Card(row.id, row.last4, row.kind, row.status, row.note)

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
        """Create the demo customers when the database is empty (or ``reset``). True if seeded."""
        from assistant.backoffice.demo import DEMO_CUSTOMERS

        with self._session.begin() as s:
            if reset:
                for table in (TransferRow, PayeeRow, CardRow, AccountRow, CustomerRow):
                    s.query(table).delete()
            elif s.scalar(select(func.count()).select_from(CustomerRow)):
                return False
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
        return True
