"""Introduction: greet new and returning visitors, say what the assistant can do, offer the top
tasks (ordered by what customers actually ask most), and set the guided or the search-first path."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ProactiveHelp
from actions.common import INTRODUCTION, identity, metadata
from actions.kb import article_button
from actions.services import ServiceAction
from actions.tickets import answer_if_waiting

logger = logging.getLogger(__name__)

NOVICE, EXPERIENCED = "novice", "experienced"


def visitor_profile(meta: dict[str, Any], flagged_novice: bool) -> tuple[bool, str]:
    """(returning, expertise) from what the host page passed: first visit or flagged is novice."""
    raw = meta.get("visitor")
    visitor: dict[str, Any] = raw if isinstance(raw, dict) else {}
    try:
        visits = int(visitor.get("visits", 1))
    except (TypeError, ValueError):
        visits = 1
    returning = bool(visitor.get("returning")) or visits > 1
    novice = flagged_novice or bool(visitor.get("novice")) or not returning
    return returning, NOVICE if novice else EXPERIENCED


class ActionGreet(ServiceAction, Action):
    def name(self) -> str:
        return "action_greet"

    def top_tasks(self) -> list[str]:
        content = self.services.content
        settings = content.top_task_settings
        ordered: list[str] = []
        if settings.from_logs and self.services.analytics is not None:
            try:
                ordered = self.services.analytics.top_articles(
                    days=settings.days, limit=settings.count, min_events=settings.min_events
                )
            except Exception:
                logger.exception("could not read the most asked articles")
        for task in content.top_tasks:  # the editor's order fills what the logs don't cover
            if len(ordered) >= settings.count:
                break
            if task not in ordered:
                ordered.append(task)
        return ordered[: settings.count]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if answer_if_waiting(self.services, dispatcher, tracker):
            return []
        content = self.services.content
        customer = identity(tracker, self.services.settings.identity_secret)
        returning, expertise = visitor_profile(metadata(tracker), bool(customer and customer.novice))
        tasks: list[dict[str, str]] = []
        try:
            articles = self.services.kb.get().index.articles
            tasks = [article_button(t, articles[t].title) for t in self.top_tasks() if t in articles]
        except Exception:  # greet anyway; the knowledge base may come back later
            logger.exception("knowledge base unavailable while greeting")
        guided = [
            content.button("browse"),
            content.button("troubleshoot"),
            content.button("compare"),
        ]
        first_name = customer.name.split()[0] if customer and customer.name else ""
        if returning:
            dispatcher.utter_message(
                response="utter_greet_returning",
                assistant_name=content.assistant_name,
                name=f", {first_name}" if first_name else "",
            )
        else:
            dispatcher.utter_message(
                response="utter_greet", assistant_name=content.assistant_name, bank_name=content.bank_name
            )
        opened = ProactiveHelp(self.services).offer(dispatcher, tracker)
        if opened is not None:
            # something of theirs just failed: that is what the chat opens with, fix ready
            return [
                *opened,
                SlotSet("stage", INTRODUCTION),
                SlotSet("kb_decision", None),
                SlotSet("expertise", expertise),
                SlotSet("visitor", "returning" if returning else "new"),
            ]
        if expertise == NOVICE:
            dispatcher.utter_message(
                response="utter_guided_menu", buttons=[*guided, *tasks, content.button("talk_to_person")]
            )
        else:
            dispatcher.utter_message(
                response="utter_top_tasks", buttons=[*tasks, *guided, content.button("talk_to_person")]
            )
        return [
            SlotSet("stage", INTRODUCTION),
            SlotSet("kb_decision", None),
            SlotSet("expertise", expertise),
            SlotSet("visitor", "returning" if returning else "new"),
        ]


class ActionGoodbye(ServiceAction, Action):
    """Goodbye with the bank's name from data/assistant.yml (a response alone cannot know it)."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_goodbye", bank_name=self.services.content.bank_name)
        return []
