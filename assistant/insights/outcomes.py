"""What became of one conversation, from its records alone (pure: no database, no clock).

Labels (README, "Insights"), one per conversation, first match wins:

- ``ticket``: the customer left a message for the team;
- ``escalated``: a person was asked for or offered and the handoff was made (with its reason);
- ``abandoned``: the customer left inside a form, a troubleshooting tree or a clarification, right
  after a decline or a refused transaction, or came back about the same topic within
  ``assumed_hours`` (``where`` says which);
- ``resolved_confirmed``: the customer confirmed (a solved tree, a thumbs up, thanks after an
  answer) and no person was needed;
- ``resolved_assumed``: an answer or a completed transaction, no handoff, no confirmation, and
  no return on the same topic within ``assumed_hours`` (provisional until that time has passed);
- ``no_request``: the customer never asked for anything (a greeting, then gone).

``durable`` is a flag beside the label: resolved, and not back about the same topic within
``durable_days``. Containment = resolved (either kind) / conversations that asked for something.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.content import InsightsSettings
from assistant.insights import events as ev

TICKET = "ticket"
ESCALATED = "escalated"
ABANDONED = "abandoned"
RESOLVED_CONFIRMED = "resolved_confirmed"
RESOLVED_ASSUMED = "resolved_assumed"
NO_REQUEST = "no_request"
LABELS = (RESOLVED_CONFIRMED, RESOLVED_ASSUMED, ESCALATED, TICKET, ABANDONED, NO_REQUEST)
RESOLVED = (RESOLVED_CONFIRMED, RESOLVED_ASSUMED)

# How a failed question failed (mined into suggestions)
DECLINED = "declined"
CLARIFIED_ABANDONED = "clarified_abandoned"
THUMBS_DOWN = "thumbs_down"
THEN_PERSON = "then_person"

PERSON_INTENTS = frozenset({"request_human"})
FORM_STAGES = {
    "troubleshoot_form": "troubleshooting",
    "product_needs_form": "product_comparison",
    "order_card_form": "transaction",
    "freeze_card_form": "transaction",
    "transfer_form": "transaction",
}
STAGES = ("introduction", "information_gathering", "product_comparison", "transaction", "troubleshooting")


@dataclass(frozen=True)
class Handoff:
    """A handoff of this conversation, as the handoff store has it."""

    id: int
    created_at: dt.datetime
    reason: str
    stage: str = ""
    status: str = "queued"
    outcome: str = ""


@dataclass(frozen=True)
class Return:
    """A later conversation of the same customer: when it started, what it was about."""

    started: dt.datetime
    topics: frozenset[str]


@dataclass
class FailedQuestion:
    question: str
    how: str
    ts: dt.datetime
    article_id: str = ""  # the article shown, when it was rated down


@dataclass
class Outcome:
    label: str
    where: str = ""
    reason: str = ""
    asked: bool = False
    answered: bool = False
    confirmed: bool = False
    durable: bool = False
    provisional: bool = False  # the return window is still open: the label may still change
    topics: set[str] = field(default_factory=set)
    stages: set[str] = field(default_factory=set)
    channel: str = ""
    turns: int = 0
    test: bool = False
    customer: str = ""
    failed: list[FailedQuestion] = field(default_factory=list)
    dropoff: str = ""  # "form transfer_form/amount" or "tree card_not_arrived/ordered_when"
    refusal: str = ""  # the back office's refusal code when a transaction was refused

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.label,
            "where": self.where,
            "reason": self.reason,
            "asked": self.asked,
            "durable": self.durable,
            "provisional": self.provisional,
            "topics": sorted(self.topics),
            "stages": sorted(self.stages),
            "channel": self.channel,
            "turns": self.turns,
        }


@dataclass
class _State:
    """Where the conversation stands after each record."""

    pending: str = ""  # form/tree/clarification/decline/refused: unfinished business
    form: str = ""
    field_: str = ""
    tree: str = ""
    node: str = ""
    last_question: str = ""
    last_answer_question: str = ""


def label(
    records: Sequence[ev.Record],
    *,
    handoffs: Iterable[Handoff] = (),
    tickets: int = 0,
    returns: Iterable[Return] = (),
    settings: InsightsSettings | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """The outcome of one conversation: ``records`` in order; ``handoffs`` and ``tickets`` from
    the handoff store; ``returns``: the same customer's later conversations."""
    settings = settings or InsightsSettings()
    out = Outcome(NO_REQUEST)
    s = _State()
    confirm = set(settings.confirm_intents)
    records = ev.without_carried_over(list(records))
    for r in records:
        if r.kind == ev.USER:
            out.turns += 1
            out.channel = out.channel or str(r.detail.get("channel") or "")
            out.test = out.test or bool(r.detail.get("test"))
            if r.name in PERSON_INTENTS:
                if s.pending in ("decline", "clarification") and s.last_question:
                    out.failed.append(FailedQuestion(s.last_question, THEN_PERSON, r.ts))
                out.asked = True
            elif r.name in confirm and out.answered and not s.pending:
                out.confirmed = True
            if r.text and not r.detail.get("button"):
                s.last_question = r.text
        elif r.kind == "stage":
            out.stages.add(r.name)
        elif r.kind == ev.CUSTOMER:
            out.customer = r.name
        elif r.kind == ev.ARTICLE_SHOWN:
            out.asked = out.answered = True
            out.topics.add(r.name)
            s.pending = ""
            s.last_answer_question = r.text or s.last_question
            out.stages.add("information_gathering")
        elif r.kind == ev.CLARIFIED:
            out.asked = True
            s.pending = "clarification"
            s.last_question = r.text or s.last_question
        elif r.kind == ev.SEARCH_FAILED:
            out.asked = True
            s.pending = "decline"
            question = r.text or s.last_question
            s.last_question = question
            if question:
                out.failed.append(FailedQuestion(question, DECLINED, r.ts))
        elif r.kind == ev.FORM:
            if r.name:
                out.asked = True
                s.form, s.field_ = r.name, ""
                s.pending = "form"
                out.topics.add(r.name if r.name != ev.TREE_FORM else s.tree or r.name)
                out.stages.add(FORM_STAGES.get(r.name, "transaction"))
            elif s.pending in ("form", "tree"):
                s.pending = "ended-form"  # the form let go: done (a transaction record follows) or cancelled
        elif r.kind == ev.FIELD:
            s.field_ = r.name
        elif r.kind == ev.TREE:
            s.tree = r.name
            s.pending = "tree"
            out.topics.discard(ev.TREE_FORM)
            out.topics.add(f"tree:{r.name}")
        elif r.kind == ev.NODE:
            s.node = r.name
        elif r.kind == ev.TREE_FINISHED:
            out.asked = True
            s.pending = ""
            if r.detail.get("outcome") == "solved":
                out.answered = out.confirmed = True
            out.topics.add(f"tree:{r.detail.get('tree') or s.tree}")
        elif r.kind == ev.TRANSACTION:
            out.asked = True
            form = str(r.detail.get("form") or s.form)
            out.topics.add(form)
            if r.detail.get("ok"):
                out.answered = True
                s.pending = ""
            else:
                s.pending = "refused"
                out.refusal = str(r.detail.get("code") or "refused")
        elif r.kind in (ev.RECOMMENDED, ev.PRODUCT_CHOSEN, ev.ACCOUNT_ANSWER):
            out.asked = out.answered = True
            s.pending = ""
            out.topics.add(str(r.detail.get("topic") or r.detail.get("product") or r.kind))
        elif r.kind == ev.FEEDBACK:
            # the latest rating of an article counts: a thumbs down taken back is no failure
            out.failed = [f for f in out.failed if not (f.how == THUMBS_DOWN and f.article_id == r.name)]
            if r.detail.get("helpful") is True:
                out.confirmed = out.confirmed or out.answered
            elif r.detail.get("helpful") is False:
                out.confirmed = False
                question = r.text or s.last_answer_question
                if question:
                    out.failed.append(FailedQuestion(question, THUMBS_DOWN, r.ts, r.name))
    if out.turns:
        out.stages.add("introduction")
    if s.pending == "form" and s.form == ev.TREE_FORM:
        s.pending = "tree"
    if s.pending == "form":
        out.dropoff = f"form {s.form}/{s.field_}" if s.field_ else f"form {s.form}"
    elif s.pending == "tree":
        out.dropoff = f"tree {s.tree}/{s.node}" if s.node else f"tree {s.tree}"
    if s.pending == "clarification" and s.last_question:
        out.failed.append(FailedQuestion(s.last_question, CLARIFIED_ABANDONED, records[-1].ts))

    handoff_list = sorted(handoffs, key=lambda h: h.created_at)
    if tickets:
        out.label, out.asked = TICKET, True
        out.reason = handoff_list[0].reason if handoff_list else ""
        return _windows(out, records, returns, settings, now)
    if handoff_list:
        first = handoff_list[0]
        out.label, out.asked, out.reason = ESCALATED, True, first.reason
        out.where = first.stage
        return _windows(out, records, returns, settings, now)
    stuck = {
        "form": out.dropoff,
        "tree": out.dropoff,
        "clarification": "clarification",
        "decline": "after a decline",
        "refused": f"refused: {out.refusal}",
        "ended-form": f"left form {s.form}" if s.form else "left a form",
    }
    if s.pending in stuck:
        out.label, out.where = ABANDONED, stuck[s.pending]
        return _windows(out, records, returns, settings, now)
    if out.confirmed:
        out.label = RESOLVED_CONFIRMED
    elif out.answered:
        out.label = RESOLVED_ASSUMED
    elif out.asked:
        out.label, out.where = ABANDONED, "no answer"
    return _windows(out, records, returns, settings, now)


def _windows(
    out: Outcome,
    records: Sequence[ev.Record],
    returns: Iterable[Return],
    settings: InsightsSettings,
    now: dt.datetime | None,
) -> Outcome:
    """Returns about the same topic: an assumed resolution that came back within
    ``assumed_hours`` was not one; durable = resolved and not back within ``durable_days``."""
    if not records:
        return out
    ended = records[-1].ts
    assumed = dt.timedelta(hours=settings.assumed_hours)
    durable = dt.timedelta(days=settings.durable_days)
    back = [r for r in returns if r.started > ended and r.topics & out.topics]
    if out.label == RESOLVED_ASSUMED and any(r.started - ended <= assumed for r in back):
        out.label, out.where = ABANDONED, f"came back about it within {settings.assumed_hours} h"
    if out.label in RESOLVED:
        out.durable = not any(r.started - ended <= durable for r in back)
        if now is not None:  # a return may still come: the label or the flag may still change
            out.provisional = now - ended < (durable if out.durable else assumed)
    return out
