"""Guided troubleshooting: ``troubleshoot_form`` walks a tree from ``data/troubleshooting/``.

The form has two required slots. ``tree_id`` picks the tree (a button, or the customer's words
matched to the trees' titles and triggers). ``tree_answer`` is asked again and again: each answer
is matched to the current node's options (a button, or free text), moves to the next node and
clears the slot, until a leaf ends the tree. A resolving leaf is followed by "Did this solve it?";
its answer, a handoff leaf or a form leaf ends the form with ``tree_result``; then
``action_tree_finished`` copies it into the categorical ``tree_outcome`` that the rules act on.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.account import record_resolution
from actions.common import (
    MISSES,
    TROUBLESHOOTING,
    choice_button,
    custom_payload,
    handed_off,
    typed_text,
)
from actions.forms import reask
from actions.kb import article_button
from actions.services import ServiceAction
from assistant.conversation.understand import looks_like_question
from assistant.guided.matching import words
from assistant.guided.trees import CONFIRM_NODE, FORM, HANDOFF, RESOLVED, YES, Tree, TreeNode
from assistant.insights.events import TREE_FINISHED

logger = logging.getLogger(__name__)

SOLVED, UNSOLVED, LEFT = "solved", "unsolved", "left"
# What a customer may say inside a tree that is not an answer to its question, and what answers
# it once the tree has let go. A question (or a message NLU could not place) goes to the
# knowledge base.
LEAVE_FOR = {
    "ask_question": "kb",
    "nlu_fallback": "kb",
    "browse": "browse",
    "goodbye": "goodbye",
    "thank": "utter_youre_welcome",
    "greet": "greet",
}
LEAVE_CONFIDENCE = 0.6


def leaves_the_tree(tracker: Tracker) -> bool:
    """A message in a tree that is another request: a question, browsing, thanks or goodbye."""
    if next(tracker.get_latest_entity_values("choice"), None) is not None:
        return False
    intent = tracker.latest_message.get("intent") or {}
    text = typed_text(tracker)
    if intent.get("name") in LEAVE_FOR and float(intent.get("confidence") or 0) >= LEAVE_CONFIDENCE:
        return intent.get("name") != "ask_question" or looks_like_question(text) or len(words(text)) > 4
    return looks_like_question(text)


def _article_title(services: Any, article_id: str) -> str:
    try:
        return str(services.kb.get().index.articles[article_id].title)
    except Exception:
        return "Read the article"


class ValidateTroubleshootForm(ServiceAction, FormValidationAction):
    def name(self) -> str:
        return "validate_troubleshoot_form"

    def _tree(self, tracker: Tracker) -> Tree | None:
        trees = self.services.trees
        return trees.get(tracker.get_slot("tree_id")) if trees else None

    async def validate_tree_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        trees = self.services.trees
        text = str(value) if value else ""
        if tracker.latest_message.get("intent", {}).get("name") == "choose":
            text = typed_text(tracker)
        tree = trees.pick(text, self.services.encoder) if trees and text else None
        if tree is None:
            if text and text != "/troubleshoot":
                dispatcher.utter_message(response="utter_tree_unknown")
            return {"tree_id": None, "stage": TROUBLESHOOTING}
        return {
            "tree_id": tree.id,
            "tree_node": tree.start,
            "tree_path": [],
            "tree_result": None,
            "tree_answer": None,
            "stage": TROUBLESHOOTING,
            MISSES: {},
        }

    async def validate_tree_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        tree = self._tree(tracker)
        if tree is None:
            return {"tree_answer": None}
        node_id = tracker.get_slot("tree_node") or tree.start
        node = tree.node(node_id)
        option = tree.choose(node_id, typed_text(tracker), self.services.encoder)
        if option is None:
            intent = tracker.latest_message.get("intent", {}).get("name")
            if node_id == CONFIRM_NODE and intent in ("affirm", "deny", "thank"):
                # "that makes sense, thanks" after the answer: it helped, not a failed question
                option = node.options[1 if intent == "deny" else 0]
            elif leaves_the_tree(tracker):
                # not an answer to the tree's question: let go, and answer what was said
                path = [*(tracker.get_slot("tree_path") or []), f"{node.question} → (left: {intent})"]
                return self._finish(tracker, tree, path, LEFT, "")
            else:
                misses: dict[str, int] = dict(tracker.get_slot(MISSES) or {})
                misses["tree_answer"] = misses.get("tree_answer", 0) + 1
                if misses["tree_answer"] == 1:  # later misses: the question itself changes (reask)
                    dispatcher.utter_message(response="utter_tree_not_understood")
                return {"tree_answer": None, MISSES: misses}
        path = [*(tracker.get_slot("tree_path") or []), f"{node.question} → {option.label}"]
        if node_id == CONFIRM_NODE:
            outcome = SOLVED if option.next == YES else UNSOLVED
            return self._finish(tracker, tree, path, outcome, option.label)
        target: TreeNode = tree.node(option.next)
        if not target.is_leaf:
            return {"tree_node": target.id, "tree_path": path, "tree_answer": None, MISSES: {}}
        buttons = (
            [article_button(target.article, _article_title(self.services, target.article))]
            if target.article
            else []
        )
        dispatcher.utter_message(
            text=target.answer,
            buttons=buttons,
            json_message=custom_payload(tree={"id": tree.id, "node": target.id, "outcome": target.outcome}),
        )
        path.append(f"[{target.outcome}] {target.id}")
        if target.outcome == RESOLVED:
            return {"tree_node": CONFIRM_NODE, "tree_path": path, "tree_answer": None}
        if target.outcome == HANDOFF:
            return self._finish(tracker, tree, path, HANDOFF, option.label, handoff_reason="tree_handoff")
        assert target.outcome == FORM and target.form
        return self._finish(tracker, tree, path, target.form, option.label)

    def _finish(
        self,
        tracker: Tracker,
        tree: Tree,
        path: list[str],
        outcome: str,
        answer: str,
        handoff_reason: str | None = None,
    ) -> dict[str, Any]:
        if outcome == UNSOLVED:
            handoff_reason = "tree_unresolved"
        self.services.record(
            tracker.sender_id, TREE_FINISHED, stage=TROUBLESHOOTING, tree=tree.id, outcome=outcome, path=path
        )
        if outcome == SOLVED:
            record_resolution(self.services, tracker, f"tree {tree.id}")
        slots: dict[str, Any] = {
            "tree_answer": answer or outcome,
            "tree_result": outcome,
            "tree_path": path,
            "tree_done": tree.id,
        }
        if handoff_reason:
            slots["handoff_reason"] = handoff_reason
        return slots


class ActionTreeFinished(Action):
    """Turn the finished tree's result into ``tree_outcome``, which the rules branch on."""

    def name(self) -> str:
        return "action_tree_finished"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # The tree is done: forget it, so that the next troubleshoot_form starts afresh.
        return [
            SlotSet("tree_outcome", tracker.get_slot("tree_result") or UNSOLVED),
            SlotSet("tree_id", None),
            SlotSet("tree_node", None),
            SlotSet("tree_answer", None),
        ]


class ActionAfterTreeLeft(ServiceAction, Action):
    """The tree let go of a message that was not an answer: answer it as if no tree had been
    open (the knowledge base for a question, browsing, goodbye, thanks)."""

    def name(self) -> str:
        return "action_after_tree_left"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from actions.greet import ActionGoodbye, ActionGreet
        from actions.kb import ActionBrowse, ActionKnowledgeBaseAnswer

        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        follow = LEAVE_FOR.get(intent, "kb")
        if follow.startswith("utter_"):
            dispatcher.utter_message(response=follow)
            return []
        action: Action = {
            "kb": ActionKnowledgeBaseAnswer,
            "browse": ActionBrowse,
            "goodbye": ActionGoodbye,
            "greet": ActionGreet,
        }[follow](self.services)
        return list(await action.run(dispatcher, tracker, domain))


class ActionAskTreeId(ServiceAction, Action):
    def name(self) -> str:
        return "action_ask_tree_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        trees = self.services.trees
        buttons = [choice_button(t.title, t.id) for t in trees] if trees else []
        dispatcher.utter_message(
            response="utter_ask_tree_id", buttons=[*buttons, self.services.button("talk_to_person")]
        )
        return []


class ActionAskTreeAnswer(ServiceAction, Action):
    """Ask the current node's question, with its options as buttons."""

    def name(self) -> str:
        return "action_ask_tree_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        trees = self.services.trees
        tree = trees.get(tracker.get_slot("tree_id")) if trees else None
        if tree is None:
            dispatcher.utter_message(
                response="utter_tree_unknown", buttons=[self.services.button("talk_to_person")]
            )
            return []
        node_id = tracker.get_slot("tree_node") or tree.start
        node = tree.node(node_id)
        buttons = [choice_button(o.label, o.next) for o in node.options]
        if node.article:
            buttons.append(article_button(node.article, _article_title(self.services, node.article)))
        if node_id != CONFIRM_NODE:
            buttons.append(self.services.button("talk_to_person"))
        step = len(tracker.get_slot("tree_path") or []) + 1
        misses = int((tracker.get_slot(MISSES) or {}).get("tree_answer", 0))
        if reask(
            dispatcher,
            self.services,
            misses,
            field="tree_answer",
            label="answer",
            question=node.question or "",
            options="\n".join(f"{i}. {o.label}" for i, o in enumerate(node.options, 1)),
            buttons=[choice_button(o.label, o.next) for o in node.options],
        ):
            return []
        dispatcher.utter_message(
            text=node.question,
            buttons=buttons,
            json_message=custom_payload(
                tree={"id": tree.id, "title": tree.title, "node": node.id, "step": step}
            ),
        )
        return []


class ActionCrossSell(ServiceAction, Action):
    """After a confirmed resolution: one relevant suggestion, never after a complaint or handoff."""

    def name(self) -> str:
        return "action_cross_sell"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_glad_solved")
        offer = self.services.content.cross_sell_for(tracker.get_slot("tree_done") or "")
        if offer is None or tracker.get_slot("complained") or handed_off(tracker):
            return []
        buttons = []
        if offer.article:
            buttons.append(article_button(offer.article, _article_title(self.services, offer.article)))
        if offer.product:
            buttons.append({"title": "Compare plans", "payload": "/compare_products"})
        dispatcher.utter_message(
            text=offer.text,
            buttons=buttons,
            json_message=custom_payload(cross_sell={"after": tracker.get_slot("tree_done")}),
        )
        return []
