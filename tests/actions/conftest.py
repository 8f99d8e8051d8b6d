"""Fixtures for the actions: real services over a small knowledge base and a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.services import Services
from assistant.content import BotContent, load_content
from assistant.kb.build import build_from_source
from assistant.kb.live import LiveKnowledgeBase
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def services(article_dir, tmp_path, encoder, handoff_store) -> Services:
    index_dir = tmp_path / "index"
    build_from_source(article_dir, index_dir, lambda: encoder)
    settings = Settings(kb_index=index_dir, max_message_chars=200)
    editors = load_content(ROOT / "data" / "assistant.yml")  # the real button titles
    content = BotContent(
        top_tasks=("card_arrival", "no_such_article", "exchange_rate"),
        buttons=editors.buttons,
        labels=editors.labels,
    )
    return Services(settings, content, LiveKnowledgeBase(index_dir, encoder, content.kb), handoff_store)


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def make_tracker(
    text: str = "",
    *,
    intent: str = "ask_question",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    sender_id: str = "customer-1",
    metadata: dict[str, Any] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "metadata": metadata or {},
    }
    user_event = {
        "event": "user",
        "text": text,
        "parse_data": latest,
        "timestamp": 1.0,
        "metadata": metadata or {},
    }
    return Tracker(
        sender_id=sender_id,
        slots=slots or {},
        latest_message=latest,
        events=(events or []) + [user_event],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
