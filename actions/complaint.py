"""A complaint or frustration: apologise, offer a person, and remember it (no cross-selling).
A second complaint hands off at once (reason ``frustration``), without waiting to be asked."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from actions.services import ServiceAction


class ActionComplaint(ServiceAction, Action):
    def name(self) -> str:
        return "action_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from actions.products import ValidateProductNeedsForm

        answer = ValidateProductNeedsForm(self.services).answer(tracker)
        if answer:  # "hardly ever" taken for a complaint: it answers the question; the form goes on
            return [SlotSet(k, v) for k, v in answer.items()]
        if tracker.get_slot("complained") and self.services.content.handoff.on_repeated_complaint:
            dispatcher.utter_message(response="utter_complaint_handoff")
            tracker.slots["handoff_reason"] = "frustration"
            handoff = await ActionHandoff(self.services).run(dispatcher, tracker, domain)
            return [SlotSet("complained", True), *handoff]
        dispatcher.utter_message(response="utter_complaint", buttons=[self.services.button("talk_to_person")])
        return [SlotSet("complained", True)]
