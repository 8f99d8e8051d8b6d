"""Run by tests/rasa_addons/test_tracker_store.py with Rasa's own Python: Rasa's SQLTrackerStore
and ours, given the same turns, store the same conversation and publish the same events."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_addons.tracker_store import READ_INDEX, StreamingSQLTrackerStore


class Recording(EventBroker):
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


TURNS = [
    [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")],
    [UserUttered("where is my card", {"name": "ask_question"}), ActionExecuted("action_kb_answer"),
     BotUttered("Cards arrive in 3-5 days."), SlotSet("stage", "information_gathering"),
     ActionExecuted("action_listen")],
    [UserUttered("thanks", {"name": "thank"}), BotUttered("Welcome!"), ActionExecuted("action_listen")],
]  # fmt: skip


async def run(store_class: type, folder: str) -> tuple[list[Any], list[Any]]:
    broker = Recording()
    store = store_class(
        Domain.empty(), dialect="sqlite", db=f"{folder}/{store_class.__name__}.db", event_broker=broker
    )
    tracker = DialogueStateTracker("c1", [])
    for turn in TURNS:
        for event in turn:
            tracker.update(event)
        await store.save(tracker)
        tracker = await store.retrieve("c1")  # as Rasa does: the next turn starts from the store
    stored = await store.retrieve("c1")
    published = [(e["event"], e.get("text") or e.get("name")) for e in broker.published]
    return published, [json.dumps(e.as_dict(), sort_keys=True) for e in stored.events]


async def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        theirs = await run(SQLTrackerStore, folder)
        ours = await run(StreamingSQLTrackerStore, folder)
        engine = sa.create_engine(f"sqlite:///{folder}/StreamingSQLTrackerStore.db")
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("events")}
        engine.dispose()
    if indexes.get(READ_INDEX) != ["sender_id", "timestamp"]:
        print(f"the read index is missing: {indexes}")
        return 1
    if theirs != ours or len(ours[0]) != sum(len(t) for t in TURNS):
        print(json.dumps({"rasa": theirs[0], "ours": ours[0]}, indent=1))
        return 1
    print(f"same {len(ours[0])} events published and stored")
    return 0


sys.exit(asyncio.run(main()))
