"""One event of Rasa's stream as a flat record the dashboard can count.

Rasa's broker publishes every tracker event as a dictionary with ``sender_id`` and ``event``.
Our actions enrich the stream with ``agent`` events whose ``data`` is ``{"insight": kind, ...}``
(:func:`enrichment`); the web app adds the customer's feedback the same way. Events that say
nothing about how a conversation went (``action_listen``, most slots) are dropped here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

INSIGHT_KEY = "insight"  # the key of an enrichment event's data

# Kinds of records
SESSION = "session"  # a new Rasa session of the same sender: a new conversation
USER = "user"
BOT = "bot"
AGENT_REPLY = "agent_reply"  # a person's message, sent by the console through Rasa
ACTION = "action"
FORM = "form"  # a form (or a troubleshooting tree) became active; name "" when it ended
FIELD = "field"  # the form field asked next (Rasa's requested_slot)
TREE = "tree"  # the troubleshooting tree the customer is in
NODE = "node"  # the tree node asked next
PAUSE, RESUME = "pause", "resume"  # a person took over / handed back

# Enrichments written by our actions and the web app (data["insight"])
ARTICLE_SHOWN = "article_shown"
SEARCH_FAILED = "search_failed"
CLARIFIED = "clarified"
TREE_FINISHED = "tree_finished"
RECOMMENDED = "recommended"
PRODUCT_CHOSEN = "product_chosen"
TRANSACTION = "transaction"
ACCOUNT_ANSWER = "account_answer"
PROACTIVE_OFFERED = "proactive_offered"
PROACTIVE_OUTCOME = "proactive_outcome"
FEEDBACK = "feedback"
CUSTOMER = "customer"  # the signed-in customer (a keyed hash, never the id itself)
ENRICHMENTS = frozenset(
    {
        ARTICLE_SHOWN,
        SEARCH_FAILED,
        CLARIFIED,
        TREE_FINISHED,
        RECOMMENDED,
        PRODUCT_CHOSEN,
        TRANSACTION,
        ACCOUNT_ANSWER,
        PROACTIVE_OFFERED,
        PROACTIVE_OUTCOME,
        FEEDBACK,
        CUSTOMER,
    }
)

TREE_FORM = "troubleshoot_form"
QUIET_ACTIONS = frozenset({"action_listen", "action_session_start", "action_unlikely_intent"})
MAX_TEXT = 1000


@dataclass
class Record:
    """One thing that happened in a conversation."""

    sender_id: str
    ts: dt.datetime
    kind: str
    name: str = ""  # intent, action, form, field, node, article id or enrichment subject
    text: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts": self.ts.isoformat(), "kind": self.kind}
        if self.name:
            out["name"] = self.name
        if self.text:
            out["text"] = self.text
        out.update(self.detail)
        return out


def enrichment(kind: str, **detail: Any) -> dict[str, Any]:
    """The Rasa event our actions return to tell analytics what happened (``agent`` events carry
    data and change nothing in the conversation's state)."""
    if kind not in ENRICHMENTS:
        raise ValueError(f"unknown insight kind {kind!r}")
    return {"event": "agent", "text": None, "data": {INSIGHT_KEY: kind, **detail}}


def _ts(event: dict[str, Any]) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return dt.datetime.fromtimestamp(0, dt.UTC)


def _clip(value: Any) -> str:
    return str(value or "").replace("\x00", "")[:MAX_TEXT]


SLOT_KINDS = frozenset({FORM, FIELD, TREE, NODE, "stage"})


def without_carried_over(records: list[Record]) -> list[Record]:
    """The records without the slots Rasa replays into a new session (the domain carries slots
    over): between a session's start and its first user message, they are the last session's."""
    out: list[Record] = []
    replaying = False
    for r in records:
        if r.kind == SESSION:
            replaying = True
        elif r.kind == USER:
            replaying = False
        if replaying and r.kind in SLOT_KINDS:
            continue
        out.append(r)
    return out


def read_event(event: dict[str, Any]) -> Record | None:
    """The record for one broker event, or None when it says nothing worth counting."""
    sender = str(event.get("sender_id") or "")[:255]
    kind = event.get("event")
    if not sender or not isinstance(kind, str):
        return None
    ts = _ts(event)
    if kind == "session_started":
        return Record(sender, ts, SESSION)
    if kind == "user":
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        raw_meta = event.get("metadata")
        metadata: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        text = _clip(event.get("text"))
        shown = metadata.get("shown")
        if text.startswith("/") and isinstance(shown, str) and shown:
            text = _clip(shown)  # the button's title, not its payload
        detail: dict[str, Any] = {
            "channel": str(event.get("input_channel") or "")[:32],
            "confidence": round(float(intent.get("confidence") or 0.0), 4),
        }
        if metadata.get("traffic") == "test" or metadata.get("simulated") is True:
            detail["test"] = True
        if str(event.get("text") or "").startswith("/"):
            detail["button"] = True
        return Record(sender, ts, USER, str(intent.get("name") or "")[:64], text, detail)
    if kind == "bot":
        data = event.get("data") or {}
        custom = data.get("custom") if isinstance(data, dict) else None
        payload = custom.get("data") if isinstance(custom, dict) else None
        if isinstance(payload, dict) and isinstance(payload.get("agent"), dict):
            agent = payload["agent"]
            return Record(
                sender,
                ts,
                AGENT_REPLY,
                str(agent.get("username") or agent.get("name") or "")[:64],
                _clip(payload.get("text")),
            )
        text = _clip(event.get("text"))
        return Record(sender, ts, BOT, "", text) if text else None
    if kind == "agent":
        raw_data = event.get("data")
        enriched: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        insight = enriched.get(INSIGHT_KEY)
        if insight not in ENRICHMENTS:
            return None
        detail = {k: v for k, v in enriched.items() if k != INSIGHT_KEY}
        name = str(detail.pop("article_id", "") or detail.get("subject") or "")[:128]
        return Record(sender, ts, str(insight), name, _clip(detail.pop("question", "")), detail)
    if kind == "action":
        name = str(event.get("name") or "")
        if name in QUIET_ACTIONS or not name:
            return None
        return Record(sender, ts, ACTION, name[:64])
    if kind == "active_loop":
        return Record(sender, ts, FORM, str(event.get("name") or "")[:64])
    if kind == "slot":
        slot, value = event.get("name"), event.get("value")
        if slot == "requested_slot":
            return Record(sender, ts, FIELD, str(value or "")[:64])
        if slot == "tree_id" and value:
            return Record(sender, ts, TREE, str(value)[:64])
        if slot == "tree_node" and value:
            return Record(sender, ts, NODE, str(value)[:64])
        if slot == "stage" and value:
            return Record(sender, ts, "stage", str(value)[:32])
        return None
    if kind == "pause":
        return Record(sender, ts, PAUSE)
    if kind == "resume":
        return Record(sender, ts, RESUME)
    return None
