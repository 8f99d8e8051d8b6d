"""Scripted customers against the real stack: ``make bench-conversations`` prints one JSON object.

``bench/conversations.yml`` holds held-out customers (written apart from the assistant, never
trained or tuned on). This runner starts its own stack (Rasa, the action server and the web app,
as :class:`assistant.stack.Stack` does for ``make run``) on its own ports with its own databases
in a temporary folder, and plays each script over Rasa's ``rest`` webhook, as a fresh
conversation, with a signed token for the script's customer in every message's metadata (and
``"simulated": true``, so that analytics can leave the traffic out).

Each script: the customer sends ``opening``; then, after every bot turn, the runner reads the
tracker (Rasa's HTTP API) and says what a customer would: the interjection for the field being
asked (once), else the script's answer for that field, else the next of ``followups``. It stops
when there is nothing left to say, when the conversation is handed to a person (paused), when
one field has been asked ``ASK_LIMIT`` times, or after ``minimum_turns + TURN_SLACK`` messages.
The goal is then checked against real state: the back office (transfers, cards), the handoff
store, the analytics events, the tracker and the bot's custom payloads. The back office is
reset to the demo data before each script.

The pure parts (what to say next, goal checks, re-asks, dead ends) take plain dicts, so that
``tests/test_conversations_bench.py`` checks them without a stack.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "bench" / "conversations.yml"
# questions about the customer's own account: two sets by two authors
ACCOUNT_SCRIPTS = (
    ROOT / "bench" / "account_conversations.yml",
    ROOT / "bench" / "account_conversations_2.yml",
)
DEFAULT_PORTS = (25005, 25055, 28081, 28080)  # never make run's (5005...) nor the tests' (15005...)
ASK_LIMIT = 4  # stop when one field has been asked this many times
TURN_SLACK = 8  # at most minimum_turns + this many customer messages
VISITOR = {"visits": 3, "returning": True}  # a returning visitor: articles shown, not guided trees
SCRIPT_KEYS = {"id", "customer", "opening", "answers", "interjections", "followups", "goal", "minimum_turns"}
GOAL_KEYS: dict[str, set[str]] = {
    "transfer": {"payee", "amount"},
    "freeze_card": {"card", "reason"},
    "order_card": {"card_kind", "delivery"},
    "refused": {"form", "reason"},
    "article": {"article_id"},
    "handoff": {"form", "values"},
    "comparison": {"min_products"},
    "sign_in_asked": set(),
    "fact": {"fact", "mentions"},
}
SHOWN_DECISIONS = ("answer", "selected")
OUTCOME_PAYLOADS = (
    "transaction",
    "refusal",
    "handoff",
)  # a bot turn with one of these ends a task  # a kb payload with these decisions shows the article

DEFINITIONS = {
    "turns": "customer messages sent in the conversation (the opening included)",
    "goal_reached_rate": (
        "goals_reached / scripts; a script whose goal kind (or part of it) cannot be checked counts as"
        " not reached and is listed under unsupported"
    ),
    "mean_turns_over_minimum": "mean of (turns - minimum_turns) over the scripts that reached their goal",
    "bot_turn": (
        "every message the bot sent in reply to one customer message; its text is the messages' texts "
        "joined, whitespace collapsed"
    ),
    "identical_reasks": (
        "bot turns whose non-empty text equals the text of the bot turn just before it in the same "
        "conversation (three identical turns in a row count 2); empty turns never count and end a run"
    ),
    "max_identical_in_a_row": (
        "the longest run of consecutive bot turns with the same non-empty text, over all conversations "
        "(1 = never repeated)"
    ),
    "dead_ends": (
        "scripts that ended because the customer had nothing left to say (not the turn or ask limit, "
        "not a handoff), with the goal not reached, after a bot turn that offered no way forward: no "
        "button, no '?' in any text, no input field payload, no form field requested, and no outcome "
        "payload (transaction, refusal or handoff: the bot did or declined a task, counted in the goal)"
    ),
    "goal:transfer": (
        "exactly one new transfer row in the back office for the customer, to the payee named (case "
        "ignored) and of the amount given"
    ),
    "goal:freeze_card": (
        "the customer's card with those last 4 digits went from not frozen to frozen with the reason "
        "stored on it, and no other card of theirs was frozen"
    ),
    "goal:order_card": (
        "exactly one new card row of that kind for the customer; for a delivery, the card_delivery "
        "slot when action_order_card ran (what the back office was given: it does not store the "
        "delivery) equals it"
    ),
    "goal:refused": (
        "a bot message carries the refusal payload {refusal: {code, form}} with that code and form, "
        "and the customer's back office did not change"
    ),
    "goal:article": (
        "every follow-up was said and the bot's last turn shows that article (a kb payload with the "
        "article id and decision answer or selected); analytics article_shown is reported alongside"
    ),
    "goal:handoff": (
        "a handoff row for the conversation; with a form, its context (slots) names that active form "
        "and holds the values given (payee id read as the payee's name, card id as its last 4 digits,"
        " amounts as numbers)"
    ),
    "goal:comparison": "a bot message carries a comparison payload with at least min_products columns",
    "goal:sign_in_asked": (
        "the bot said utter_sign_in_needed (its text as in domain.yml, or a tracker bot event from "
        "it) or sent an account payload with sign_in true, and no back-office row changed"
    ),
    "goal:fact": (
        "every follow-up was said and the bot's last turn carries an account payload {account: {topic}}"
        " of that topic and its texts contain every string of mentions (the back office's own values)"
    ),
}


# ---- small helpers on the rest channel's messages -----------------------------------------------
def norm(text: str | None) -> str:
    return " ".join((text or "").split())


def turn_text(messages: list[dict[str, Any]]) -> str:
    return norm(" ".join(m.get("text") or "" for m in messages))


def payloads(messages: list[dict[str, Any]], key: str) -> list[Any]:
    """The ``key`` part of every custom payload ({"custom": {"data": {key: ...}}})."""
    found = []
    for message in messages:
        data = (message.get("custom") or {}).get("data")
        if isinstance(data, dict) and key in data:
            found.append(data[key])
    return found


def buttons(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for m in messages for b in m.get("buttons") or []]


def summarise_message(message: dict[str, Any]) -> dict[str, Any]:
    """A bot message for the transcript: text, button titles, the telling parts of payloads."""
    out: dict[str, Any] = {}
    if message.get("text"):
        out["text"] = message["text"]
    if message.get("buttons"):
        out["buttons"] = [b.get("title") for b in message["buttons"]]
    data = (message.get("custom") or {}).get("data")
    if isinstance(data, dict):
        custom: dict[str, Any] = {}
        for key, value in data.items():
            if key == "kb" and isinstance(value, dict):
                custom[key] = {k: value.get(k) for k in ("article_id", "decision", "score")}
                if value.get("options"):
                    custom[key]["options"] = [o.get("article_id") for o in value["options"]]
            elif key == "comparison" and isinstance(value, dict):
                custom[key] = [c.get("product_id") for c in value.get("columns") or []]
            elif key in ("refusal", "transaction", "handoff", "input", "guided"):
                custom[key] = value
            else:
                custom[key] = "…"
        out["custom"] = custom
    return out


# ---- what the customer says next ---------------------------------------------------------------
@dataclass
class Progress:
    said_interjections: set[int] = field(default_factory=set)
    followups_sent: int = 0
    asks: Counter[str] = field(default_factory=Counter)


def next_message(script: dict[str, Any], requested: str | None, progress: Progress) -> tuple[str, str] | None:
    """(text, why) the customer says next, or None when they have nothing left to say.

    With a field requested: its interjection if not said yet, else the answer for it. Otherwise
    (or with no answer for the field) the next follow-up. Updates ``progress``."""
    if requested:
        for i, interjection in enumerate(script.get("interjections") or []):
            if interjection.get("when") == requested and i not in progress.said_interjections:
                progress.said_interjections.add(i)
                return str(interjection["say"]), f"interjection:{requested}"
        answers = script.get("answers") or {}
        if requested in answers and answers[requested] is not None:
            return str(answers[requested]), f"answer:{requested}"
    followups = script.get("followups") or []
    if progress.followups_sent < len(followups):
        progress.followups_sent += 1
        return str(followups[progress.followups_sent - 1]), f"followup:{progress.followups_sent}"
    return None


# ---- re-asks and dead ends -----------------------------------------------------------------------
def identical_reasks(bot_texts: list[str]) -> tuple[int, int]:
    """(bot turns whose non-empty text equals the previous turn's, the longest identical run)."""
    count, longest, run, previous = 0, 0, 0, None
    for raw in bot_texts:
        text = norm(raw)
        if not text:
            run, previous = 0, None
            continue
        if text == previous:
            count += 1
            run += 1
        else:
            run = 1
        previous = text
        longest = max(longest, run)
    return count, longest


def offers_a_way_forward(messages: list[dict[str, Any]], requested: str | None) -> bool:
    """The bot turn asks something or offers something to do: a button, a question, an input
    field, or a form field it is waiting for."""
    return bool(
        requested
        or buttons(messages)
        or any("?" in (m.get("text") or "") for m in messages)
        or payloads(messages, "input")
    )


def is_dead_end(reached: bool | None, stop: str, last_turn: dict[str, Any] | None) -> bool:
    """See DEFINITIONS["dead_ends"]: the customer had nothing to say after a bot turn that offered
    nothing, and the goal was not reached."""
    if reached is not False or stop != "nothing_to_say" or last_turn is None:
        return False
    if last_turn.get("paused"):
        return False
    if any(payloads(last_turn.get("bot") or [], key) for key in OUTCOME_PAYLOADS):
        return False  # the bot did or declined a task: an outcome, if not the one wanted
    return not offers_a_way_forward(last_turn.get("bot") or [], last_turn.get("requested"))


# ---- goal checks ----------------------------------------------------------------------------------
def money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).replace("£", "").replace(",", "").strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed in one customer's back office: new transfers, new cards, status changes."""
    old_transfers = {t["id"] for t in before.get("transfers", [])}
    old_cards = {c["id"]: c for c in before.get("cards", [])}
    new_cards, changed = [], []
    for card in after.get("cards", []):
        was = old_cards.get(card["id"])
        if was is None:
            new_cards.append(card)
        elif (was["status"], was.get("note")) != (card["status"], card.get("note")):
            changed.append({**card, "was": was["status"]})
    return {
        "transfers": [t for t in after.get("transfers", []) if t["id"] not in old_transfers],
        "new_cards": new_cards,
        "changed_cards": changed,
    }


def _nothing_changed(changes: dict[str, Any]) -> bool:
    return not (changes["transfers"] or changes["new_cards"] or changes["changed_cards"])


def _describe(changes: dict[str, Any]) -> str:
    parts = [f"sent £{t['amount']} to {t['payee']}" for t in changes["transfers"]]
    parts += [f"ordered a {c['kind']} card ({c['last4']})" for c in changes["new_cards"]]
    parts += [
        f"card {c['last4']} {c['was']} -> {c['status']}" + (f" ({c['note']})" if c.get("note") else "")
        for c in changes["changed_cards"]
    ]
    return "; ".join(parts) or "nothing"


def _slot_before_action(events: list[dict[str, Any]], slot: str, action: str) -> Any:
    """The value ``slot`` had when ``action`` last ran (from the tracker's events)."""
    value, seen = None, None
    for event in events:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
        elif event.get("event") == "action" and event.get("name") == action:
            seen = value
    return seen


def _value_matches(slot: str, stored: Any, wanted: Any, office: dict[str, Any]) -> bool:
    if wanted is None:
        return stored is None
    if stored is None:
        return False
    if slot == "transfer_payee":
        name = office.get("payees", {}).get(str(stored), str(stored))
        return norm(name).casefold() == norm(str(wanted)).casefold()
    if slot == "freeze_card_id":
        last4 = {c["id"]: c["last4"] for c in office.get("cards", [])}.get(str(stored), str(stored))
        return str(last4) == str(wanted)
    if "amount" in slot:
        return money(stored) is not None and money(stored) == money(wanted)
    return norm(str(stored)).casefold() == norm(str(wanted)).casefold()


def check_goal(script: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any]:
    """{"reached": True/False (None: cannot be checked), "reason": why not, "evidence": ...}.

    ``ev`` holds what the runner gathered: ``turns`` (each {"bot": messages, ...}),
    ``before``/``after`` (back office by customer: transfers, cards, payees), ``handoffs``,
    ``analytics`` (this conversation's events), ``events`` (tracker), ``sign_in_texts``,
    ``followups_left``."""
    goal = script.get("goal") or {}
    kind = goal.get("kind")
    if kind not in GOAL_KEYS:
        return {"reached": None, "reason": f"unsupported goal kind {kind!r}", "evidence": {}}
    unknown = sorted(set(goal) - GOAL_KEYS[kind] - {"kind"})
    customer = script.get("customer")
    bot = [m for turn in ev.get("turns", []) for m in turn.get("bot") or []]
    before = ev.get("before", {}).get(customer or "", {})
    after = ev.get("after", {}).get(customer or "", {})
    changes = _changes(before, after)
    evidence: dict[str, Any] = {"back_office": _describe(changes)}
    reached, reason = False, ""

    if kind == "transfer":
        transfers = changes["transfers"]
        wanted = f"£{money(goal.get('amount'))} to {goal.get('payee')}"
        if not customer:
            reason = "a transfer goal for an anonymous customer"
        elif not transfers:
            reason = f"no transfer made (wanted {wanted})"
        elif len(transfers) > 1:
            reason = f"{len(transfers)} transfers made: {_describe(changes)} (wanted only {wanted})"
        else:
            t = transfers[0]
            reached = norm(t["payee"]).casefold() == norm(str(goal.get("payee"))).casefold() and money(
                t["amount"]
            ) == money(goal.get("amount"))
            reason = "" if reached else f"sent £{t['amount']} to {t['payee']} (wanted {wanted})"

    elif kind == "freeze_card":
        frozen = [c for c in changes["changed_cards"] if c["status"] == "frozen" and c["was"] != "frozen"]
        target = [c for c in frozen if c["last4"] == str(goal.get("card"))]
        if not frozen:
            reason = f"no card frozen (wanted {goal.get('card')}, {goal.get('reason')})"
        elif not target:
            reason = f"froze {', '.join(c['last4'] for c in frozen)} instead of {goal.get('card')}"
        elif len(frozen) > 1:
            reason = f"froze {', '.join(c['last4'] for c in frozen)}, not only {goal.get('card')}"
        elif goal.get("reason") is not None and target[0].get("note") != goal.get("reason"):
            reason = (
                f"froze {goal.get('card')} with reason {target[0].get('note')!r} (wanted {goal['reason']!r})"
            )
        else:
            reached = True

    elif kind == "order_card":
        new = changes["new_cards"]
        delivery = _slot_before_action(ev.get("events", []), "card_delivery", "action_order_card")
        evidence["delivery_given"] = delivery
        if not new:
            reason = f"no card ordered (wanted {goal.get('card_kind')}, {goal.get('delivery')})"
        elif len(new) > 1:
            reason = f"{len(new)} cards ordered: {_describe(changes)}"
        elif new[0]["kind"] != goal.get("card_kind"):
            reason = f"ordered a {new[0]['kind']} card (wanted {goal.get('card_kind')})"
        elif goal.get("delivery") is not None and delivery != goal.get("delivery"):
            reason = f"ordered with {delivery or 'default (standard)'} delivery (wanted {goal['delivery']})"
        else:
            reached = True

    elif kind == "refused":
        refusals = [r for r in payloads(bot, "refusal") if isinstance(r, dict)]
        evidence["refusals"] = refusals
        hit = [
            r for r in refusals if r.get("code") == goal.get("reason") and r.get("form") == goal.get("form")
        ]
        if hit and _nothing_changed(changes):
            reached = True
        elif hit:
            reason = f"refused, but the back office changed: {_describe(changes)}"
        elif refusals:
            said = ", ".join(f"{r.get('code')} in {r.get('form')}" for r in refusals)
            reason = f"refused with {said} (wanted {goal.get('reason')} in {goal.get('form')})"
        elif not _nothing_changed(changes):
            reason = f"not refused: {_describe(changes)} (wanted refusal {goal.get('reason')})"
        else:
            reason = f"no refusal payload (wanted {goal.get('reason')} in {goal.get('form')})"

    elif kind == "article":
        article = goal.get("article_id")
        turns = ev.get("turns", [])
        last = turns[-1].get("bot") or [] if turns else []
        shown_last = [
            k.get("article_id")
            for k in payloads(last, "kb")
            if isinstance(k, dict) and k.get("decision") in SHOWN_DECISIONS
        ]
        shown_any = [
            k.get("article_id")
            for k in payloads(bot, "kb")
            if isinstance(k, dict) and k.get("decision") in SHOWN_DECISIONS
        ]
        offered = [
            o.get("article_id")
            for k in payloads(last, "kb")
            if isinstance(k, dict)
            for o in k.get("options") or []
        ]
        recorded = [e.get("article_id") for e in ev.get("analytics", []) if e.get("kind") == "article_shown"]
        evidence.update(shown=shown_any, last_turn_shown=shown_last, analytics_article_shown=recorded)
        if ev.get("followups_left"):
            reason = f"{ev['followups_left']} follow-up(s) never said"
        elif article in shown_last:
            reached = True
        elif article in offered:
            reason = f"{article} only offered among choices {offered} in the last turn"
        elif article in shown_any:
            reason = f"{article} shown earlier, but the last turn showed {shown_last or 'no article'}"
        else:
            decisions = [k.get("decision") for k in payloads(last, "kb") if isinstance(k, dict)]
            reason = (
                f"last turn showed {shown_last or 'no article'} (kb decision {decisions or 'none'}), "
                f"wanted {article}"
            )

    elif kind == "handoff":
        handoffs = ev.get("handoffs", [])
        form, values = goal.get("form"), goal.get("values") or {}
        evidence["handoffs"] = [
            {"reason": h.get("reason"), "active_form": (h.get("slots") or {}).get("active_form")}
            for h in handoffs
        ]
        office = ev.get("after", {}).get(customer or "", {})
        if not handoffs:
            reason = "no handoff created"
        else:
            problems: list[str] = []
            for handoff in handoffs:
                slots = handoff.get("slots") or {}
                problems = []
                if form is not None and slots.get("active_form") != form:
                    problems.append(f"handoff made outside {form} (active form {slots.get('active_form')})")
                for slot, value in values.items():
                    if not _value_matches(slot, slots.get(slot), value, office):
                        problems.append(f"context {slot}={slots.get(slot)!r} (wanted {value!r})")
                if not problems:
                    break
            reached = not problems
            reason = "; ".join(problems)

    elif kind == "comparison":
        tables = [t for t in payloads(bot, "comparison") if isinstance(t, dict)]
        sizes = [len(t.get("columns") or []) for t in tables]
        evidence["comparison_sizes"] = sizes
        wanted_n = int(goal.get("min_products") or 1)
        reached = any(n >= wanted_n for n in sizes)
        if not reached:
            reason = f"comparison of {max(sizes)} product(s)" if sizes else "no comparison shown"

    elif kind == "fact":
        turns = ev.get("turns", [])
        last = turns[-1].get("bot") or [] if turns else []
        answers = [a for a in payloads(last, "account") if isinstance(a, dict)]
        said = " ".join(str(m.get("text") or "") for m in last)
        missing = [str(x) for x in goal.get("mentions") or [] if str(x) not in said]
        evidence.update(topics=[a.get("topic") for a in answers], missing=missing)
        if ev.get("followups_left"):
            reason = f"{ev['followups_left']} follow-up(s) never said"
        elif not answers:
            decisions = [k.get("decision") for k in payloads(last, "kb") if isinstance(k, dict)]
            reason = f"no account answer in the last turn (kb decision {decisions or 'none'})"
        elif goal.get("fact") not in [a.get("topic") for a in answers]:
            reason = f"answered about {[a.get('topic') for a in answers]} (wanted {goal.get('fact')})"
        elif missing:
            reason = f"the last turn does not say {missing}"
        else:
            reached = True

    elif kind == "sign_in_asked":
        variants = {norm(t) for t in ev.get("sign_in_texts", [])}
        by_text = any(norm(m.get("text")) in variants for m in bot if m.get("text")) or any(
            isinstance(a, dict) and a.get("sign_in") for a in payloads(bot, "account")
        )
        by_event = any(
            e.get("event") == "bot"
            and (e.get("metadata") or {}).get("utter_action") == "utter_sign_in_needed"
            for e in ev.get("events", [])
        )
        changed = {
            cid: _describe(_changes(ev.get("before", {}).get(cid, {}), office))
            for cid, office in ev.get("after", {}).items()
        }
        changed = {cid: what for cid, what in changed.items() if what != "nothing"}
        if changed:
            reason = f"the back office changed: {changed}"
        elif not (by_text or by_event):
            reason = "the bot never asked the customer to sign in"
        else:
            reached = True

    if unknown:
        return {
            "reached": None,
            "reason": f"goal keys not checked: {unknown}" + (f"; {reason}" if reason else ""),
            "evidence": evidence,
        }
    return {"reached": reached, "reason": reason, "evidence": evidence}


# ---- aggregate -------------------------------------------------------------------------------------
def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    reached = [r for r in results if r["reached"] is True]
    over = [r["turns"] - r["minimum_turns"] for r in reached]
    reasks = sum(r["identical_reasks"] for r in results)
    longest = max((r["max_identical_in_a_row"] for r in results), default=0)
    kinds: dict[str, dict[str, int]] = {}
    for r in results:
        entry = kinds.setdefault(str(r["goal_kind"]), {"scripts": 0, "reached": 0})
        entry["scripts"] += 1
        entry["reached"] += r["reached"] is True
    return {
        "scripts": len(results),
        "goals_reached": len(reached),
        "goal_reached_rate": round(len(reached) / len(results), 4) if results else 0.0,
        "mean_turns_over_minimum": round(statistics.fmean(over), 3) if over else None,
        "identical_reasks": reasks,
        "max_identical_in_a_row": longest,
        "dead_ends": sum(1 for r in results if r["dead_end"]),
        "by_goal_kind": kinds,
        "failed": [r["id"] for r in results if r["reached"] is False],
        "unsupported": [{"id": r["id"], "reason": r["reason"]} for r in results if r["reached"] is None],
        "interjections_not_said": {
            r["id"]: r["interjections_not_said"] for r in results if r.get("interjections_not_said")
        },
    }


def provenance() -> dict[str, Any]:
    """Which code and model were benchmarked."""
    import datetime as dt
    import subprocess

    model = ROOT / "models" / "kestrel.tar.gz"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        )
    except OSError:
        head, dirty = "", False
    mtime = dt.datetime.fromtimestamp(model.stat().st_mtime, dt.UTC).isoformat() if model.exists() else None
    return {"git_head": head, "uncommitted_changes": dirty, "model_mtime": mtime}


def unsupported_fields(scripts: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {s["id"]: sorted(set(s) - SCRIPT_KEYS) for s in scripts if set(s) - SCRIPT_KEYS}


def load_scripts(*paths: Path) -> list[dict[str, Any]]:
    """The scripts of ``paths`` (default: the conversations and the account questions)."""
    scripts: list[dict[str, Any]] = []
    for path in paths or (SCRIPTS, *ACCOUNT_SCRIPTS):
        scripts += yaml.safe_load(path.read_text(encoding="utf-8"))["conversations"]
    return scripts


def sign_in_texts(domain: Path = ROOT / "domain.yml") -> list[str]:
    responses = (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("responses") or {}
    return [str(v.get("text")) for v in responses.get("utter_sign_in_needed") or [] if v.get("text")]


# ---- the live part ---------------------------------------------------------------------------------
class Client:
    """Rasa's rest webhook and tracker over HTTP (standard library)."""

    def __init__(self, rasa_port: int, token: str):
        self.base, self.token = f"http://127.0.0.1:{rasa_port}", token

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=180) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None

    def say(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        body = {"sender": sender, "message": text, "metadata": metadata}
        return list(self._call("POST", f"{self.base}/webhooks/rest/webhook", body) or [])

    def tracker(self, sender: str) -> dict[str, Any]:
        quoted = urllib.parse.quote(sender, safe="")
        token = urllib.parse.quote(self.token, safe="")
        return dict(self._call("GET", f"{self.base}/conversations/{quoted}/tracker?token={token}") or {})


def play(client: Client, script: dict[str, Any], sender: str, metadata: dict[str, Any]) -> dict[str, Any]:
    progress = Progress()
    cap = int(script.get("minimum_turns") or 1) + TURN_SLACK
    turns: list[dict[str, Any]] = []
    text, why = str(script["opening"]), "opening"
    stop, tracker, seconds = "", {}, []
    while True:
        started = time.perf_counter()
        replies = client.say(sender, text, metadata)
        seconds.append(time.perf_counter() - started)
        tracker = client.tracker(sender)
        form = (tracker.get("active_loop") or {}).get("name")
        requested = (tracker.get("slots") or {}).get("requested_slot") if form else None
        paused = bool(tracker.get("paused"))
        turns.append(
            {"user": text, "as": why, "bot": replies, "form": form, "requested": requested, "paused": paused}
        )
        if paused:
            stop = "handed_to_a_person"
            break
        if requested:
            progress.asks[requested] += 1
            if progress.asks[requested] >= ASK_LIMIT:
                stop = f"{requested}_asked_{ASK_LIMIT}_times"
                break
        if len(turns) >= cap:
            stop = "turn_cap"
            break
        said = next_message(script, requested, progress)
        if said is None:
            stop = "nothing_to_say"
            break
        text, why = said
    interjections = script.get("interjections") or []
    return {
        "turns": turns,
        "stop": stop,
        "events": tracker.get("events") or [],
        "seconds": seconds,
        "followups_left": len(script.get("followups") or []) - progress.followups_sent,
        "interjections_not_said": [
            i["when"] for n, i in enumerate(interjections) if n not in progress.said_interjections
        ],
    }


class Live:
    """The stack and its stores, for one benchmark run."""

    def __init__(self, var: Path, ports: tuple[int, int, int, int]):
        from assistant.stack import Stack

        # Our own databases only: never reset a back office named in the environment.
        for name in ("ASSISTANT_DB_URL", "ASSISTANT_BACKOFFICE_URL"):
            os.environ.pop(name, None)
        self.stack = Stack(
            rasa_port=ports[0],
            action_port=ports[1],
            web_port=ports[2],
            public_port=ports[3],
            rasa_token=secrets.token_urlsafe(16),
            api_token=secrets.token_urlsafe(16),
            identity_secret=secrets.token_urlsafe(32),
            var_dir=var,
        )
        self.backoffice_url = f"sqlite:///{var / 'backoffice.db'}"
        self.client = Client(ports[0], self.stack.rasa_token)
        self.agent_token = ""

    def start(self) -> None:
        from assistant.backoffice import BackOffice
        from assistant.staff.store import StaffStore

        self.stack.start(timeout=900, quiet=True)
        self.office = BackOffice(self.backoffice_url)
        self.office.seed_demo()
        self.staff = StaffStore(self.stack.database_url)
        user = self.staff.user("agent")
        if user is not None:  # an agent has the console open: a handoff queues, as in the tests
            self.agent_token = self.staff.start_session(user).token

    def stop(self) -> None:
        if self.agent_token:
            self.staff.end_session(self.agent_token)
        self.stack.stop()

    def snapshot(self) -> dict[str, Any]:
        """Every demo customer's transfers, cards and payees."""
        from sqlalchemy import select

        from assistant.backoffice.store import CustomerRow, PayeeRow, TransferRow

        with self.office._session() as s:
            customers = list(s.scalars(select(CustomerRow.id)))
            names = {p.id: p.name for p in s.scalars(select(PayeeRow))}
            transfers = list(s.scalars(select(TransferRow).order_by(TransferRow.created_at)))
        state: dict[str, Any] = {}
        for cid in customers:
            state[cid] = {
                "transfers": [
                    {
                        "id": t.id,
                        "payee": names.get(t.payee_id, t.payee_id),
                        "amount": f"{Decimal(t.amount_minor) / 100:.2f}",
                    }
                    for t in transfers
                    if t.customer_id == cid
                ],
                "cards": [
                    {"id": c.id, "last4": c.last4, "kind": c.kind, "status": c.status, "note": c.note}
                    for c in self.office.cards(cid)
                ],
                "payees": {p.id: p.name for p in self.office.payees(cid)},
            }
        return state

    def handoffs(self, sender: str) -> list[dict[str, Any]]:
        from assistant.handoff.store import HandoffStore

        store = HandoffStore(self.stack.database_url)
        try:
            return [r.to_dict(transcript=False) for r in store.list(conversation_id=sender)]
        finally:
            store.engine.dispose()

    def analytics(self, sender: str) -> list[dict[str, Any]]:
        """This conversation's records in the analytics store (read from Rasa's event stream)."""
        from assistant.insights.store import InsightsStore

        store = InsightsStore(self.stack.database_url)
        try:
            return [
                {"kind": e["kind"], "article_id": e.get("name", ""), "detail": e}
                for e in store.events_of(sender)
            ]
        finally:
            store.dispose()

    def metadata(self, customer: str | None, script_id: str) -> dict[str, Any]:
        from assistant.backoffice.demo import DEMO_CUSTOMERS
        from assistant.identity import TOKEN_KEY, sign

        meta: dict[str, Any] = {"visitor": dict(VISITOR), "simulated": True, "bench": "conversations"}
        meta["script"] = script_id
        if customer:
            known = next((c for c in DEMO_CUSTOMERS if c["id"] == customer), {"name": "", "plan": "standard"})
            meta[TOKEN_KEY] = sign(
                self.stack.identity_secret, customer, name=known["name"], segment=known["plan"]
            )
        return meta

    def run_script(self, script: dict[str, Any], texts: list[str]) -> dict[str, Any]:
        self.office.seed_demo(reset=True)  # scripts for the same customer change balances
        if self.agent_token:
            self.staff.session(self.agent_token, seen=True)  # the console's poll: still online
        sender = f"bench-{script['id'][:40]}-{uuid.uuid4().hex[:8]}"
        before = self.snapshot()
        try:
            played = play(self.client, script, sender, self.metadata(script.get("customer"), script["id"]))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            played = {"turns": [], "stop": f"error: {exc}", "events": [], "seconds": [],
                      "followups_left": 0, "interjections_not_said": []}  # fmt: skip
        ev = {
            **played,
            "before": before,
            "after": self.snapshot(),
            "handoffs": self.handoffs(sender),
            "analytics": self.analytics(sender),
            "sign_in_texts": texts,
        }
        return score(script, sender, ev)


def score(script: dict[str, Any], sender: str, ev: dict[str, Any]) -> dict[str, Any]:
    """One script's result from what was gathered (pure)."""
    goal = check_goal(script, ev)
    turns = ev["turns"]
    reasks, longest = identical_reasks([turn_text(t["bot"]) for t in turns])
    dead = is_dead_end(goal["reached"], ev["stop"], turns[-1] if turns else None)
    reason = goal["reason"]
    if goal["reached"] is not True:
        last = turn_text(turns[-1]["bot"]) if turns else ""
        reason = f"{reason}; stopped: {ev['stop']}" + (f"; last bot turn: {last[:160]!r}" if last else "")
    result: dict[str, Any] = {
        "id": script["id"],
        "goal_kind": (script.get("goal") or {}).get("kind"),
        "customer": script.get("customer"),
        "conversation_id": sender,
        "reached": goal["reached"],
        "turns": len(turns),
        "minimum_turns": int(script.get("minimum_turns") or 0),
        "stop": ev["stop"],
        "reason": reason if goal["reached"] is not True else "",
        "identical_reasks": reasks,
        "max_identical_in_a_row": longest,
        "dead_end": dead,
        "interjections_not_said": ev.get("interjections_not_said", []),
        "evidence": goal["evidence"],
        "reply_seconds_max": round(max(ev.get("seconds") or [0.0]), 2),
    }
    if goal["reached"] is not True:
        transcript: list[dict[str, Any]] = []
        for turn in turns:
            transcript.append({"user": turn["user"], "as": turn["as"]})
            transcript.append(
                {
                    "bot": [summarise_message(m) for m in turn["bot"]],
                    "form": turn["form"],
                    "requested": turn["requested"],
                    **({"paused": True} if turn["paused"] else {}),
                }
            )
        result["transcript"] = transcript
    return result


def main(argv: list[str] | None = None) -> int:
    from assistant.benchout import add_ports_argument, build_missing, report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--only", action="append", metavar="ID", help="run only this script (repeatable)")
    add_ports_argument(parser, DEFAULT_PORTS)
    parser.add_argument(
        "--scripts", type=Path, action="append", help="a script file (repeatable; default: both in bench/)"
    )
    parser.add_argument(
        "--var",
        type=Path,
        help="keep the stack's databases and logs in this new folder (default: a temporary one)",
    )
    args = parser.parse_args(argv)
    ports = args.ports
    missing = build_missing(ROOT)
    if missing:
        print(missing, file=sys.stderr)
        return 1
    scripts = load_scripts(*(args.scripts or ()))
    if args.only:
        missing = sorted(set(args.only) - {s["id"] for s in scripts})
        if missing:
            parser.error(f"no such script: {', '.join(missing)}")
        scripts = [s for s in scripts if s["id"] in args.only]
    texts = sign_in_texts()

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.perf_counter()
    results = []
    if args.var is not None and args.var.exists() and any(args.var.iterdir()):
        parser.error(f"--var {args.var} is not empty: the back office in it would be reset")
    with tempfile.TemporaryDirectory(prefix="bench-conversations-") as tmp:
        live = Live((args.var or Path(tmp)).resolve(), ports)
        try:
            live.start()
            startup = time.perf_counter() - started
            for n, script in enumerate(scripts, 1):
                result = live.run_script(script, texts)
                results.append(result)
                mark = {True: "ok", False: "FAIL", None: "unsupported"}[result["reached"]]
                print(f"[bench] {n}/{len(scripts)} {script['id']}: {mark} ({result['turns']} turns)",
                      file=sys.stderr, flush=True)  # fmt: skip
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            live.stop()
    summary = aggregate(results)
    summary.update(
        {
            "benchmark": "conversations",
            "script_files": [
                str(p.resolve().relative_to(ROOT) if p.resolve().is_relative_to(ROOT) else p)
                for p in (args.scripts or [SCRIPTS, *ACCOUNT_SCRIPTS])
            ],
            "unsupported_script_fields": unsupported_fields(scripts),
            "provenance": provenance(),
            "settings": {
                "ask_limit": ASK_LIMIT,
                "turn_cap": f"minimum_turns + {TURN_SLACK}",
                "visitor": VISITOR,
                "agent_online": bool(live.agent_token),
                "back_office": "reset to the demo data before each script",
            },
            "definitions": DEFINITIONS,
            "startup_seconds": round(startup, 1),
            "elapsed_seconds": round(time.perf_counter() - started, 1),
            "results": results,
        }
    )
    report(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
