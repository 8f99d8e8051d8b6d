"""What an action records reaches Rasa's stream: the action server's executor adds it to the
action's own events (the real rasa-sdk executor, with a real action)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.observe import ObservingExecutor
from actions.services import RECORDED, ServiceAction, Services
from assistant.content import BotContent
from assistant.insights.events import read_event
from assistant.settings import Settings


class ActionShows(ServiceAction, Action):
    def name(self) -> str:
        return "action_shows"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        self.services.record(tracker.sender_id, "article_shown", article_id="card_arrival", question="hi")
        return [SlotSet("stage", "information_gathering")]


def call(sender: str) -> dict[str, Any]:
    tracker = {
        "sender_id": sender,
        "slots": {},
        "latest_message": {"text": "where is my card", "intent": {}},
        "events": [],
        "latest_action_name": "action_listen",
        "paused": False,
        "active_loop": {},
    }
    return {
        "next_action": "action_shows",
        "sender_id": sender,
        "tracker": tracker,
        "domain": {},
        "version": "3.6",
    }


async def test_what_an_action_records_is_returned_with_its_events(handoff_store) -> None:
    services = Services(Settings(), BotContent(), kb=None, handoffs=handoff_store)
    executor = ObservingExecutor(services)
    executor.register_action(ActionShows(services))
    result = await executor.run(call("c1"))
    events = result.events if hasattr(result, "events") else result["events"]
    assert events[0]["event"] == "slot"
    (added,) = events[1:]
    record = read_event({"sender_id": "c1", "timestamp": 1.0, **added})
    assert record is not None and (record.kind, record.name, record.text) == (
        "article_shown",
        "card_arrival",
        "hi",
    )
    assert RECORDED.get() is None  # nothing leaks into the next action
