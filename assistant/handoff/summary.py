"""A short extractive summary of a conversation for the agent who picks it up.

Written from the stored data only (no external service): what the customer said that carries
the most information, what the assistant showed, where they were, and why they were handed off.
Sentences are the customer's own words, picked, not generated.
"""

from __future__ import annotations

import re
from typing import Any

GREETINGS = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "choose"}
_WORD = re.compile(r"[a-z0-9£']+")
_STOP = frozenset(
    "a an the i i'm my me it is was to of in on at for and or but with this that you your have has do can "  # noqa: SIM905
    "please hi hello hey thanks".split()
)


def _informative(turn: dict[str, Any]) -> float:
    text = str(turn.get("text") or "")
    if not text or text.startswith("/") or turn.get("intent") in GREETINGS:
        return 0.0
    words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
    return len(set(words)) + (1.0 if turn.get("intent") == "ask_question" else 0.0)


def summarise(
    transcript: list[dict[str, Any]],
    *,
    reason: str,
    stage: str,
    slots: dict[str, Any] | None = None,
    max_quotes: int = 2,
) -> str:
    slots = slots or {}
    users = [t for t in transcript if t.get("role") == "user"]
    scored = sorted(((score, i) for i, t in enumerate(users) if (score := _informative(t)) > 0), reverse=True)
    picked = sorted(i for _, i in scored[:max_quotes])
    parts: list[str] = []
    if picked:
        quotes = "; ".join(f"“{str(users[i]['text']).strip()[:160]}”" for i in picked)
        parts.append(f"Customer said: {quotes}.")
    articles = [t["article_id"] for t in transcript if t.get("role") == "bot" and t.get("article_id")]
    if articles:
        parts.append(f"Shown: {', '.join(dict.fromkeys(articles))}.")
    where = stage.replace("_", " ") if stage else "introduction"
    form = slots.get("active_form")
    if form:
        asked = slots.get("requested_slot")
        where += f", in {form.replace('_', ' ')}" + (
            f" (asked for {str(asked).replace('_', ' ')})" if asked else ""
        )
    parts.append(f"Stage: {where}.")
    path = slots.get("tree_path")
    if isinstance(path, list) and path:
        parts.append(f"Guided path: {' / '.join(str(p) for p in path[-3:])}.")
    problem = slots.get("account_problem")
    if problem:
        parts.append(f"Account: {str(problem)[:200]}.")
    parts.append(f"Reason: {reason.replace('_', ' ')}.")
    return " ".join(parts)


HIGH_VALUE_SEGMENTS = frozenset({"premium", "business"})


def priority(transcript: list[dict[str, Any]], *, reason: str, slots: dict[str, Any]) -> int:
    """Queue priority: +1 when the customer really tried self-service first (an answer to a
    question they typed, a guided path or a form), +1 for a premium or business customer.

    Nothing a message can claim raises it: an article opened by a payload ("/show_article…", a
    button's decision ``selected``) is not an attempt, and a sales request is routed to sales
    but not put first; the segment comes from the verified token only (actions/handoff.py)."""
    tried = (
        any(t.get("article_id") and t.get("decision") != "selected" for t in transcript)
        or bool(slots.get("tree_path"))
        or bool(slots.get("active_form"))
    )
    high_value = str(slots.get("segment", "")) in HIGH_VALUE_SEGMENTS
    return int(tried) + int(high_value)
