"""A conversation's messages for the chat widget, rebuilt from Rasa's tracker events.

The tracker is the single source of truth: the widget shows it after a reload and after a
reconnect, so nothing is lost and nothing is shown twice. Payload messages (a button's
``/intent{...}``) are shown with the title the customer clicked, which the widget sends as
``metadata.shown``; payloads sent without one (``/greet``) are not shown at all.
"""

from __future__ import annotations

import re
from typing import Any

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_MESSAGES = 200


def chat_history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            text = str(event.get("text") or "")
            metadata = event.get("metadata") or {}
            shown = metadata.get("shown") if isinstance(metadata, dict) else None
            if text.startswith("/") or text.startswith("EXTERNAL_"):
                if not shown:
                    continue
                text = str(shown)
            messages.append({"role": "user", "text": text, "ts": event.get("timestamp")})
        elif kind == "bot":
            data = event.get("data") or {}
            metadata = event.get("metadata") or {}
            message: dict[str, Any] = {"role": "bot", "ts": event.get("timestamp")}
            if event.get("text"):
                message["text"] = event["text"]
            buttons = data.get("buttons") or data.get("quick_replies")
            if buttons:
                message["buttons"] = [
                    {"title": b.get("title", ""), "payload": b.get("payload", "")} for b in buttons
                ]
            custom = data.get("custom")
            if isinstance(custom, dict):
                message["custom"] = custom.get("data", custom)
                agent = message["custom"].get("agent") if isinstance(message["custom"], dict) else None
                if isinstance(agent, dict):  # a person's message (actions/agent.py)
                    message.update(
                        role="agent", agent=str(agent.get("name", "")), text=message["custom"].get("text")
                    )
            if isinstance(metadata, dict) and metadata.get("agent"):
                message["role"] = "agent"
                message["agent"] = str(metadata["agent"])
            if len(message) > 2:
                messages.append(message)
    return messages[-MAX_MESSAGES:]
