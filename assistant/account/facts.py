"""The facts that answer an account question, read from the back office for one verified
customer and written in the editors' words (data/account.yml).

Every read takes the customer id from the verified token: a card, payee or merchant named in the
message only narrows down that customer's own records, it never reaches anyone else's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency

from assistant.account.questions import AccountQuestion
from assistant.account.words import AccountWords
from assistant.backoffice.store import BackOffice, Card, Payment, TopUp, TransferRecord

LOCALE = "en_GB"
HOME = ZoneInfo("Europe/London")
SHOWN = 3  # payments, transfers or top-ups listed in one answer
_TROUBLE = re.compile(
    r"\b(?:why|declined|rejected|refused|bounced|fail\w*|didn'?t (?:go|work)|not (?:go|gone|work)\w*|wrong|"
    r"problem|issue|reverted|back)\b",
    re.IGNORECASE,
)


def money(amount: Decimal) -> str:
    return format_currency(amount, "GBP", locale=LOCALE)


def when(at: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "today at 14:02", "yesterday at 09:10", "on 28 November" (UK time)."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(HOME)
    local = at.astimezone(HOME)
    days = (now.date() - local.date()).days
    clock = format_time(local, "HH:mm", locale=LOCALE)
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"yesterday at {clock}"
    if days == -1:
        return f"tomorrow by {clock}"
    return "on " + format_date(local, "EEEE d MMMM" if -7 < days < 0 else "d MMMM", locale=LOCALE)


def day(at: dt.datetime) -> str:
    return format_date(at.astimezone(HOME), "EEEE d MMMM", locale=LOCALE)


@dataclass
class FactAnswer:
    """What the customer reads, what to offer next, and the same facts for the handoff context
    and the chat payload (amounts as text)."""

    topic: str
    lines: list[str] = field(default_factory=list)
    offer: tuple[str, str] | None = None  # the fix: ("tree", id), ("article", id), ("form", name)
    facts: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""  # what is wrong, for a person taking over: "top-up of £50.00 failed: issuer_declined"
    # said on their own to a follow-up: why something failed, when something arrives (each
    # sentence names what it is about, so it reads without the answer before it)
    reasons: list[str] = field(default_factory=list)
    timing: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def focused(self, *, why: bool, when: bool, unchanged: str) -> str:
        """Said again to a follow-up ("why?", "so when?"): only what it asks, when the answer
        holds it; else the same facts, said to have not changed."""
        text = ""
        if why and self.reasons:
            text = "\n".join(self.reasons)
        elif when and self.timing:
            text = "\n".join(self.timing)
        if not text or text == self.text:
            text = "\n".join([unchanged, *self.lines])
        return text


class AccountFacts:
    def __init__(self, backoffice: BackOffice, words: AccountWords):
        self.backoffice, self.words = backoffice, words

    # ---- what the question may name, for reading it -------------------------------------------
    def names(self, customer_id: str) -> dict[str, list[str]]:
        """The customer's own card digits, payee names and recent merchants."""
        office = self.backoffice
        return {
            "cards": [c.last4 for c in office.cards(customer_id)],
            "payees": [p.name for p in office.payees(customer_id)],
            "merchants": [p.merchant for p in office.payments(customer_id, limit=20) if p.merchant],
        }

    # ---- the answer ----------------------------------------------------------------------------
    def answer(
        self, customer_id: str, question: AccountQuestion, text: str = "", now: dt.datetime | None = None
    ) -> FactAnswer:
        now = now or dt.datetime.now(dt.UTC)
        trouble = question.why or bool(_TROUBLE.search(text))
        reader = {
            "balance": self._balance,
            "payments": self._payments,
            "transfers": self._transfers,
            "topups": self._topups,
            "cards": self._cards,
            "card_order": self._card_order,
            "plan": self._plan,
        }[question.topic]
        answer = FactAnswer(question.topic)
        reader(customer_id, question, trouble, now, answer)
        return answer

    def _why(self, answer: FactAnswer, code: str, what: str) -> None:
        reason = self.words.reason(code)
        answer.lines.append(self.words.say("why", reason=reason.text))
        answer.reasons.append(self.words.say("because", what=what, reason=reason.text))
        answer.offer = answer.offer or reason.offer
        answer.problem = answer.problem or f"{what}: {code}"

    def _balance(
        self, cid: str, q: AccountQuestion, trouble: bool, now: dt.datetime, answer: FactAnswer
    ) -> None:
        account = self.backoffice.account(cid)
        if account is None:
            return
        answer.lines.append(
            self.words.say("balance", balance=money(account.balance), account=account.name.lower())
        )
        answer.facts.append({"kind": "balance", "balance": str(account.balance), "status": account.status})
        pending = [p for p in self.backoffice.payments(cid, limit=20) if p.status == "pending"]
        if pending:
            total = sum((p.amount for p in pending), Decimal(0))
            answer.lines.append(self.words.say("balance_pending", count=len(pending), total=money(total)))

    @staticmethod
    def _pick(items: list[Any], trouble: bool, bad: tuple[str, ...]) -> list[Any]:
        """The ones asked about: what went wrong first when the customer asks about trouble."""
        if trouble:
            wrong = [i for i in items if i.status in bad]
            if wrong:
                return wrong[:SHOWN]
        return items[:SHOWN]

    def _payments(
        self, cid: str, q: AccountQuestion, trouble: bool, now: dt.datetime, answer: FactAnswer
    ) -> None:
        payments = self.backoffice.payments(cid, limit=20)
        if q.merchant:
            payments = [p for p in payments if p.merchant == q.merchant] or payments
        if q.last4:
            payments = [p for p in payments if p.card_last4 == q.last4] or payments
        chosen: list[Payment] = self._pick(payments, trouble or bool(q.merchant), ("declined", "reverted"))
        for p, bullet in self._listed(answer, chosen, "payments"):
            self._item(
                answer,
                bullet,
                "payment",
                p,
                ("merchant", "amount", "status", "reason", "card_last4"),
                merchant=p.merchant,
                amount=money(p.amount),
                original=f" ({p.original})" if p.original else "",
                when=when(p.at, now),
                card=f" on the card ending {p.card_last4}" if p.card_last4 else "",
                status=self.words.status("payment", p.status),
            )
            if p.reason and p.status in ("declined", "reverted") and not answer.problem:
                self._why(
                    answer, p.reason, f"card payment of {money(p.amount)} at {p.merchant} was {p.status}"
                )

    def _listed(self, answer: FactAnswer, chosen: list[Any], kind: str) -> list[tuple[Any, bool]]:
        """The items to say, each with whether it is a bullet; "none" or the intro said first."""
        if not chosen:
            answer.lines.append(self.words.say(f"no_{kind}"))
        elif len(chosen) > 1:
            answer.lines.append(self.words.say(f"{kind}_intro"))
        return [(item, len(chosen) > 1) for item in chosen]

    def _item(
        self, answer: FactAnswer, bullet: bool, sentence: str, item: Any, keep: tuple[str, ...], **values: Any
    ) -> None:
        """One payment, transfer or top-up: its sentence, and its facts for the payload."""
        answer.lines.append(("• " if bullet else "") + self.words.say(sentence, **values))
        fact = {"kind": sentence, "id": item.id, "at": item.at.isoformat()}
        answer.facts.append(fact | {k: str(getattr(item, k)) for k in keep})

    def _transfers(
        self, cid: str, q: AccountQuestion, trouble: bool, now: dt.datetime, answer: FactAnswer
    ) -> None:
        transfers = self.backoffice.transfers(cid, limit=20)
        if q.payee:
            mine = [t for t in transfers if t.payee == q.payee]
            if not mine:
                answer.lines.append(self.words.say("no_transfers_to", payee=q.payee))
                return
            transfers = mine
        chosen: list[TransferRecord] = self._pick(transfers, trouble, ("failed",))
        if q.payee and not trouble:
            chosen = chosen[:1]  # "did my transfer to Sam go through?": the latest one
        for t, bullet in self._listed(answer, chosen, "transfers"):
            self._item(
                answer,
                bullet,
                "transfer",
                t,
                ("payee", "amount", "status", "reason"),
                payee=t.payee,
                amount=money(t.amount),
                when=when(t.at, now),
                status=self.words.status("transfer", t.status),
                reference=t.reference,
            )
            if t.status == "pending" and t.expected_by is not None:
                due = when(t.expected_by, now)
                answer.lines.append(self.words.say("transfer_due", when=due))
                answer.timing.append(
                    self.words.say("transfer_due_about", amount=money(t.amount), payee=t.payee, when=due)
                )
            if t.status == "failed" and not answer.problem:
                self._why(answer, t.reason or "unknown", f"transfer of {money(t.amount)} to {t.payee} failed")
                answer.offer = (
                    answer.offer if answer.offer and answer.offer[0] == "tree" else ("form", "transfer")
                )

    def _topups(
        self, cid: str, q: AccountQuestion, trouble: bool, now: dt.datetime, answer: FactAnswer
    ) -> None:
        chosen: list[TopUp] = self._pick(
            self.backoffice.topups(cid, limit=20), trouble, ("failed", "reverted")
        )
        for u, bullet in self._listed(answer, chosen, "topups"):
            self._item(
                answer,
                bullet,
                "topup",
                u,
                ("source", "amount", "status", "reason"),
                amount=money(u.amount),
                source=u.source,
                when=when(u.at, now),
                status=self.words.status("topup", u.status),
            )
            if u.reason and u.status in ("failed", "reverted") and not answer.problem:
                outcome = "was reverted" if u.status == "reverted" else "failed"
                self._why(answer, u.reason, f"top-up of {money(u.amount)} from {u.source} {outcome}")

    def _card_line(self, card: Card, now: dt.datetime, answer: FactAnswer, *, bullet: bool) -> None:
        answer.lines.append(
            ("• " if bullet else "")
            + self.words.say("card", label=card.label, status=self.words.status("card", card.status))
        )
        answer.facts.append(
            {"kind": "card", "last4": card.last4, "card_kind": card.kind, "status": card.status}
        )
        if card.status == "frozen":
            note = f" (you said: {card.note})" if card.note else ""
            since = when(card.changed_at, now) if card.changed_at else "earlier"
            answer.lines.append(self.words.say("card_frozen_since", when=since, note=note))

    def _cards(
        self, cid: str, q: AccountQuestion, trouble: bool, now: dt.datetime, answer: FactAnswer
    ) -> None:
        cards = [c for c in self.backoffice.cards(cid) if c.status != "cancelled"]
        if q.last4:
            cards = [c for c in cards if c.last4 == q.last4] or cards
        if len(cards) > 1:
            answer.lines.append(self.words.say("cards_intro"))
        for card in cards:
            if card.status == "ordered":
                self._order_line(card, now, answer)
            else:
                self._card_line(card, now, answer, bullet=len(cards) > 1)

    def _order_line(self, card: Card, now: dt.datetime, answer: FactAnswer) -> None:
        answer.lines.append(
            self.words.say(
                "card_order",
                label=card.label.lower().replace("physical card", "card"),
                ordered=when(card.ordered_at, now) if card.ordered_at else "recently",
                dispatched=self.words.say("card_order_posted", when=when(card.dispatched_at, now))
                if card.dispatched_at
                else "",
                delivery=card.delivery or "standard",
                expected=day(card.expected_by) if card.expected_by else "soon",
            )
        )
        answer.timing.append(
            self.words.say(
                "card_due",
                label=card.label.lower().replace("physical card", "card"),
                expected=day(card.expected_by) if card.expected_by else "soon",
            )
        )
        answer.facts.append(
            {
                "kind": "card_order",
                "last4": card.last4,
                "status": card.status,
                "delivery": card.delivery,
                "expected_by": card.expected_by.isoformat() if card.expected_by else None,
            }
        )
        if card.expected_by and card.expected_by < now:
            answer.offer = ("tree", "card_not_arrived")
            answer.problem = f"card ending {card.last4} expected by {day(card.expected_by)}, not arrived"

    def _card_order(
        self, cid: str, q: AccountQuestion, trouble: bool, now: dt.datetime, answer: FactAnswer
    ) -> None:
        cards = self.backoffice.cards(cid)
        ordered = [c for c in cards if c.status == "ordered"]
        if not ordered:
            answer.lines.append(self.words.say("no_card_order"))
            self._cards(cid, AccountQuestion("cards"), trouble, now, answer)
            return
        for card in ordered:
            self._order_line(card, now, answer)

    def _plan(
        self, cid: str, q: AccountQuestion, trouble: bool, now: dt.datetime, answer: FactAnswer
    ) -> None:
        usage = self.backoffice.plan_usage(cid, now)
        if usage is None:
            return
        values = {
            "plan": usage.plan.capitalize(),
            "atm_used": money(usage.atm_used),
            "atm_allowance": money(usage.atm_allowance) if usage.atm_allowance is not None else "",
            "atm_left": money(usage.atm_left) if usage.atm_left is not None else "",
            "exchange_used": money(usage.exchange_used),
            "exchange_allowance": money(usage.exchange_allowance)
            if usage.exchange_allowance is not None
            else "",
            "exchange_left": money(usage.exchange_left) if usage.exchange_left is not None else "",
        }
        answer.lines.append(self.words.say("plan", **values))
        answer.lines.append(
            self.words.say("plan_atm" if usage.atm_allowance is not None else "plan_atm_unlimited", **values)
        )
        answer.lines.append(
            self.words.say(
                "plan_exchange" if usage.exchange_allowance is not None else "plan_exchange_unlimited",
                **values,
            )
        )
        answer.facts.append(
            {
                "kind": "plan",
                "plan": usage.plan,
                "atm_used": str(usage.atm_used),
                "atm_allowance": str(usage.atm_allowance),
                "exchange_used": str(usage.exchange_used),
                "exchange_allowance": str(usage.exchange_allowance),
            }
        )

    # ---- for a person taking over ---------------------------------------------------------------
    def summary(self, customer_id: str, now: dt.datetime | None = None) -> dict[str, Any]:
        """Read-only facts for the agent's context panel: balance, cards, and recent activity."""
        now = now or dt.datetime.now(dt.UTC)
        office = self.backoffice
        account = office.account(customer_id)
        return {
            "balance": money(account.balance) if account else None,
            "plan": (office.plan(customer_id) or "").capitalize(),
            "cards": [
                {
                    "last4": c.last4,
                    "kind": c.kind,
                    "status": c.status,
                    "expected_by": day(c.expected_by) if c.expected_by and c.status == "ordered" else None,
                }
                for c in office.cards(customer_id)
            ],
            "payments": [
                {
                    "merchant": p.merchant,
                    "amount": money(p.amount),
                    "status": p.status,
                    "reason": p.reason,
                    "when": when(p.at, now),
                }
                for p in office.payments(customer_id, limit=SHOWN)
            ],
            "transfers": [
                {
                    "payee": t.payee,
                    "amount": money(t.amount),
                    "status": t.status,
                    "reason": t.reason,
                    "when": when(t.at, now),
                }
                for t in office.transfers(customer_id, limit=SHOWN)
            ],
            "topups": [
                {
                    "source": u.source,
                    "amount": money(u.amount),
                    "status": u.status,
                    "reason": u.reason,
                    "when": when(u.at, now),
                }
                for u in office.topups(customer_id, limit=SHOWN)
            ],
        }
