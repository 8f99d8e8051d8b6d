"""Introduction: greet, say what the assistant can do, offer the top tasks."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.kb import article_button
from actions.services import ServiceAction

logger = logging.getLogger(__name__)


class ActionGreet(ServiceAction, Action):
    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        content = self.services.content
        buttons = []
        try:
            articles = self.services.kb.get().index.articles
            buttons = [article_button(t, articles[t].title) for t in content.top_tasks if t in articles]
        except Exception:  # greet anyway; the knowledge base may come back later
            logger.exception("knowledge base unavailable while greeting")
        dispatcher.utter_message(
            response="utter_greet",
            assistant_name=content.assistant_name,
            bank_name=content.bank_name,
        )
        dispatcher.utter_message(
            response="utter_top_tasks",
            buttons=[*buttons, {"title": "Talk to a person", "payload": "/request_human"}],
        )
        return [SlotSet("stage", "introduction"), SlotSet("kb_decision", None)]
