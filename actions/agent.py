"""A person's messages to the customer, sent through Rasa so they reach them in the same chat.

The web app puts the text in the ``agent_message`` slot and asks Rasa's HTTP API to execute this
action with the customer's own output channel; it works while the bot is paused for the handoff.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import custom_payload


class ActionAgentMessage(Action):
    def name(self) -> str:
        return "action_agent_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = str(tracker.get_slot("agent_message") or "").strip()
        if text:
            name = str(tracker.get_slot("agent_name") or "Agent")
            # one message carrying both, so every channel shows the text marked as from a person
            dispatcher.utter_message(json_message=custom_payload(agent={"name": name}, text=text))
        return [SlotSet("agent_message", None)]


class ActionAgentJoined(Action):
    """Tells the customer a person has taken the conversation (the web app runs it on claim)."""

    def name(self) -> str:
        return "action_agent_joined"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        name = str(tracker.get_slot("agent_name") or "Agent")
        dispatcher.utter_message(
            response="utter_agent_joined",
            agent=name,
            json_message=custom_payload(agent_joined={"name": name}),
        )
        return []
