"""Turn Rasa tracker events into a readable, annotated transcript."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _kb_meta(data: dict[str, Any]) -> dict[str, Any]:
    custom = data.get("custom") or {}
    payload = custom.get("data") if isinstance(custom, dict) else None
    kb = payload.get("kb") if isinstance(payload, dict) else None
    return kb if isinstance(kb, dict) else {}


def transcript_from_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per user or bot message, in order.

    User turns carry the intent and its confidence; bot turns carry the knowledge-base article
    and score when the message came from the knowledge base; a person's messages are turns with
    role ``agent`` and the agent's name. A bot message whose only content is
    a custom payload (the article metadata) is folded into the bot turn before it.
    """
    turns: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            text = str(event.get("text") or "")
            metadata = event.get("metadata") or {}
            shown = metadata.get("shown") if isinstance(metadata, dict) else None
            if text.startswith("/") and isinstance(shown, str) and shown:
                text = shown  # the title of the button the customer clicked, not its payload
            turns.append(
                {
                    "role": "user",
                    "text": text,
                    "timestamp": event.get("timestamp"),
                    "intent": intent.get("name"),
                    "confidence": round(float(intent.get("confidence") or 0.0), 4),
                }
            )
        elif kind == "bot":
            data = event.get("data") or {}
            custom = data.get("custom") or {}
            payload = custom.get("data") if isinstance(custom, dict) else None
            agent = payload.get("agent") if isinstance(payload, dict) else None
            if isinstance(agent, dict):  # a person's message (actions/agent.py)
                turns.append(
                    {
                        "role": "agent",
                        "text": str(payload.get("text") or ""),  # type: ignore[union-attr]
                        "timestamp": event.get("timestamp"),
                        "agent": str(agent.get("name") or "Agent"),
                    }
                )
                continue
            kb = _kb_meta(data)
            text = event.get("text") or ""
            if not text and kb and turns and turns[-1]["role"] == "bot":
                turns[-1].update(
                    article_id=kb.get("article_id"), score=kb.get("score"), decision=kb.get("decision")
                )
                continue
            if not text and not data.get("buttons"):
                continue
            turn: dict[str, Any] = {"role": "bot", "text": text, "timestamp": event.get("timestamp")}
            if data.get("buttons"):
                turn["buttons"] = [b.get("title") for b in data["buttons"]]
            if kb:
                turn.update(
                    article_id=kb.get("article_id"), score=kb.get("score"), decision=kb.get("decision")
                )
            if isinstance(payload, dict) and ("account" in payload or "proactive" in payload):
                turn["account"] = True  # facts from the customer's own account (redacted when stored)
            turns.append(turn)
    return turns
