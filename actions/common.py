"""Small helpers the actions share: buttons, stages, the customer's identity, typed choices."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Tracker

from assistant.identity import Identity, identity_from_events

MISSES = "form_misses"  # answers a form or tree could not take, per field: {field: count}

INTRODUCTION = "introduction"
INFORMATION = "information_gathering"
COMPARISON = "product_comparison"
TRANSACTION = "transaction"
TROUBLESHOOTING = "troubleshooting"


LAST_TASK = "last_task"  # the transaction just done: {"form", "values", "turn"}


def user_turns(tracker: Tracker) -> int:
    """How many messages the customer has sent in the conversation."""
    return sum(1 for e in tracker.events if e.get("event") == "user")


def last_task(tracker: Tracker) -> dict[str, Any] | None:
    """The transaction done (or refused) in reply to the customer's previous message, if any:
    what a follow-up ("and for the other card?", "when will it arrive?") leans on."""
    done = tracker.get_slot(LAST_TASK)
    if isinstance(done, dict) and done.get("turn") == user_turns(tracker) - 1:
        return done
    return None


def choice_button(title: str, choice: str) -> dict[str, str]:
    return {"title": title, "payload": "/choose" + json.dumps({"choice": choice})}


def intent_button(title: str, intent: str, **entities: str) -> dict[str, str]:
    return {"title": title, "payload": f"/{intent}" + (json.dumps(entities) if entities else "")}


def custom_payload(**parts: Any) -> dict[str, Any]:
    """A custom message. Rasa's socket.io channel emits the ``data`` key as the message, so
    the payload sits under it; the ``rest`` channel shows it as ``{"custom": {"data": ...}}``."""
    return {"data": parts}


def typed_text(tracker: Tracker) -> str:
    """What the customer said: the ``choice`` of a button, else the text they typed."""
    choice = next(tracker.get_latest_entity_values("choice"), None)
    if choice:
        return str(choice)
    return str(tracker.latest_message.get("text") or "").strip()


def metadata(tracker: Tracker) -> dict[str, Any]:
    """The latest user message's metadata (what the host page passed), or the newest one sent."""
    latest = tracker.latest_message.get("metadata") or {}
    if latest:
        return dict(latest)
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("metadata"):
            return dict(event["metadata"])
    return {}


def identity(tracker: Tracker, secret: str) -> Identity | None:
    """The verified customer, from the signed token the chat sends; None when absent or forged."""
    return identity_from_events(secret, tracker.events) if secret else None


def handed_off(tracker: Tracker) -> bool:
    return any(e.get("event") == "pause" for e in tracker.events) or any(
        e.get("event") == "action" and e.get("name") == "action_handoff" for e in tracker.events
    )
