"""A complaint or frustration: apologise, offer a person, and remember it (no cross-selling)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import HUMAN_BUTTON


class ActionComplaint(Action):
    def name(self) -> str:
        return "action_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_complaint", buttons=[HUMAN_BUTTON])
        return [SlotSet("complained", True)]
