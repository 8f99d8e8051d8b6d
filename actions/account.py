"""Answers from the signed-in customer's own account, before any article: "has my card
arrived?" gets the order's status and date, "why was my payment declined?" the payment and its
reason, with the fix (a tree, a form or an article) and a person one tap away. A customer who is
not signed in is asked to sign in (or offered a person), never shown an unrelated article.

The customer is the one of the verified token (never a slot or a typed id): a card, payee or
merchant the message names only narrows down that customer's own records.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import INFORMATION, custom_payload, identity
from assistant.account.facts import FactAnswer, money
from assistant.account.questions import AccountQuestion, asks_to_act, read_account_question
from assistant.chat_session import log_ref
from assistant.kb import ANSWER, CLARIFY, SearchResult

logger = logging.getLogger(__name__)

ACCOUNT_PROBLEM = "account_problem"  # what the facts showed wrong, for a person taking over
_WHY = re.compile(r"\b(?:why|how come|reason)\b", re.IGNORECASE)
_WHEN = re.compile(
    r"\b(?:when|how long|how much longer|by when|what time|arrive|get here|come)\b", re.IGNORECASE
)
_BARE = frozenset(  # a bare yes, no or thanks has its own answer
    {
        *("yes", "yeah", "yep", "yup", "sure", "ok", "okay", "fine", "great", "cool", "right"),
        *("no", "nope", "nah", "thanks", "thank", "you", "cheers", "ta", "bye"),
    }
)
FOLLOW_UP_WORDS = 8  # "why?", "and the uber one?", "when will it get there then"
FORM_BUTTONS = {"order_card": "order_card_now", "freeze_card": "freeze_card_now", "transfer": "transfer_now"}


def last_reply(tracker: Tracker) -> list[dict[str, Any]]:
    """The bot's messages in reply to the customer's previous message (none before a second one)."""
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if len(users) < 2:
        return []
    return [e for e in tracker.events[users[-2] + 1 : users[-1]] if e.get("event") == "bot"]


def payload(event: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The ``key`` part of a bot message's custom payload ({"custom": {"data": {key: ...}}})."""
    data = ((event.get("data") or {}).get("custom") or {}).get("data") or {}
    part = data.get(key) if isinstance(data, dict) else None
    return part if isinstance(part, dict) else None


def previous_account_answer(tracker: Tracker) -> dict[str, Any] | None:
    """The account answer in the bot's reply to the customer's previous message, if any."""
    return next((p for e in last_reply(tracker) if (p := payload(e, "account")) is not None), None)


def previous_bot_text(tracker: Tracker) -> str:
    """The text of the bot's reply to the customer's previous message (its messages joined)."""
    return "\n".join(str(e.get("text")) for e in last_reply(tracker) if e.get("text"))


class AccountAnswers:
    def __init__(self, services: Any):
        self.services = services

    def question(self, tracker: Tracker, text: str, result: SearchResult | None) -> AccountQuestion | None:
        """The account question this message asks, read against the customer's own names and
        the knowledge base's reading; a short follow-up leans on the account answer just given."""
        facts = self.services.account
        if facts is None or not text or text.startswith("/"):
            return None
        customer = identity(tracker, self.services.settings.identity_secret)
        names: dict[str, list[str]] = {}
        if customer is not None:
            try:
                names = facts.names(customer.customer_id)
            except Exception:
                logger.exception("could not read the account of %s", log_ref(tracker.sender_id))
        articles: list[str] = []
        if result is not None and result.decision == ANSWER and result.best is not None:
            articles = [result.best.id]
        elif result is not None and result.decision == CLARIFY:
            articles = [h.id for h in result.articles[:1]]
        found = read_account_question(
            text,
            read_as=result.read_as if result is not None else "",
            cards=names.get("cards", ()),
            payees=names.get("payees", ()),
            merchants=names.get("merchants", ()),
            article_topic=facts.words.articles,
            articles=articles,
        )
        before = previous_account_answer(tracker)
        if found is not None or before is None or not self.follows_up(tracker, text):
            return found
        # a short follow-up to the account answer just given: "and the uber one?" names its own
        # thing; "why?", "when will it get there?" ask about the same thing again
        lean = read_account_question(
            f"my {text}",
            cards=names.get("cards", ()),
            payees=names.get("payees", ()),
            merchants=names.get("merchants", ()),
        )
        if lean is not None:
            return lean
        topic = str(before.get("topic") or "")
        if topic not in facts.words.topics:
            return None
        return AccountQuestion(
            topic,
            why=bool(_WHY.search(text)),
            last4=before.get("last4"),
            payee=before.get("payee"),
        )

    def signed_in(self, tracker: Tracker) -> bool:
        return identity(tracker, self.services.settings.identity_secret) is not None

    def sign_in_note(self, dispatcher: CollectingDispatcher, question: AccountQuestion) -> None:
        """Under an article that answered a question about the customer's own account: what
        signing in would add ("Sign in and I can look at your own card payments too.")."""
        words = self.services.account.words
        dispatcher.utter_message(
            text=words.say("sign_in_more", what=words.topics.get(question.topic, question.topic)),
            json_message=custom_payload(account={"topic": question.topic, "sign_in": True}),
        )

    @staticmethod
    def follows_up(tracker: Tracker, text: str) -> bool:
        """A short message right after an account answer that leans on it ("why not?", "and the
        other one?", "when will it get here then"): not a bare yes, no or thanks, nor a request to
        do something, which have their own answers."""
        if previous_account_answer(tracker) is None:
            return False
        said = re.findall(r"[\w']+", text.lower())
        if not said or len(said) > FOLLOW_UP_WORDS or asks_to_act(text):
            return False
        return not set(said) <= _BARE

    def reply(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        question: AccountQuestion,
        result: SearchResult | None,
        articles: dict[str, Any],
    ) -> list[EventType] | None:
        """Say the facts (or ask to sign in); None when the back office cannot be read, so the
        knowledge base answers as before."""
        services = self.services
        facts = services.account
        words = facts.words
        customer = identity(tracker, services.settings.identity_secret)
        more = self.more_help(question, result, articles)
        if customer is None:
            dispatcher.utter_message(
                text=words.say("sign_in", what=words.topics.get(question.topic, question.topic)),
                buttons=[*more, services.button("talk_to_person")],
                json_message=custom_payload(account={"topic": question.topic, "sign_in": True}),
            )
            return [
                SlotSet("stage", INFORMATION),
                SlotSet("failed_turns", 0),
                SlotSet("kb_decision", ANSWER),
                SlotSet("kb_article", None),
            ]
        try:
            answer: FactAnswer = facts.answer(
                customer.customer_id, question, tracker.latest_message.get("text") or ""
            )
        except Exception:
            logger.exception("could not read the account of %s", log_ref(tracker.sender_id))
            return None
        if not answer.lines:
            return None
        buttons = [*self.offer(answer.offer), *more, services.button("talk_to_person")]
        text = answer.text
        if previous_account_answer(tracker) is not None and text == previous_bot_text(tracker):
            # a follow-up to the same facts: what it asks (why, when), never the same message again
            said = tracker.latest_message.get("text") or ""
            text = answer.focused(
                why=question.why,
                when=bool(_WHEN.search(said)),
                unchanged=words.say("unchanged"),
            )
        dispatcher.utter_message(
            text=text,
            buttons=buttons,
            json_message=custom_payload(
                account={
                    "topic": answer.topic,
                    "facts": answer.facts,
                    "problem": bool(answer.problem),
                    "last4": question.last4,
                    "payee": question.payee,
                }
            ),
        )
        services.record(
            tracker.sender_id,
            "account_answer",
            stage=INFORMATION,
            topic=answer.topic,
            problem=bool(answer.problem),
        )
        return [
            SlotSet("stage", INFORMATION),
            SlotSet("failed_turns", 0),
            SlotSet("kb_decision", ANSWER),
            SlotSet("kb_article", None),
            SlotSet(ACCOUNT_PROBLEM, answer.problem or None),
        ]

    def offer(self, fix: tuple[str, str] | None) -> list[dict[str, str]]:
        """The button for a fix: ("tree", id), ("form", name) or ("article", id)."""
        if fix is None:
            return []
        kind, target = fix
        services = self.services
        if kind == "tree" and services.trees is not None and services.trees.get(target) is not None:
            return [services.button("fix_step_by_step", tree_id=target)]
        if kind == "form" and target in FORM_BUTTONS:
            return [services.button(FORM_BUTTONS[target])]
        if kind == "article":
            from actions.kb import article_button

            try:
                article = services.kb.get().index.articles.get(target)
            except Exception:
                return []
            return [article_button(article.id, article.title)] if article else []
        return []

    def more_help(
        self, question: AccountQuestion, result: SearchResult | None, articles: dict[str, Any]
    ) -> list[dict[str, str]]:
        """The article as "more help": the one the search found for this topic, else the editors'."""
        from actions.kb import article_button

        words = self.services.account.words
        chosen = None
        if result is not None and result.decision in (ANSWER, CLARIFY) and result.best is not None:
            best = result.best.id
            if words.articles.get(best) == question.topic:
                chosen = best
        chosen = chosen or words.more_help.get(question.topic)
        article = articles.get(chosen or "")
        return [article_button(article.id, article.title)] if article is not None else []


class ProactiveHelp:
    """As the chat opens: "I can see your top-up of £50.00 … didn't go through: … Want to try
    another way, or talk to a person?", with the fix ready; once per failed operation."""

    FIX_FOR_KIND = {"transfer": ("form", "transfer"), "topup": ("tree", "top_up_failed")}

    def __init__(self, services: Any):
        self.services = services

    def offer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
        """Say the offer; None when there is nothing to offer (or it cannot be read)."""
        import datetime as dt

        from assistant.account.proactive import failure_to_offer, longest_window, offer_text
        from assistant.insights.events import PROACTIVE_OFFERED

        services = self.services
        rules = services.content.proactive
        customer = identity(tracker, services.settings.identity_secret)
        if customer is None or services.account is None or not rules:
            return None
        now = dt.datetime.now(dt.UTC)
        try:
            failures = services.account.backoffice.failures(customer.customer_id, now - longest_window(rules))
            offered = (
                services.analytics.seen(PROACTIVE_OFFERED, [f.id for f in failures])
                if services.analytics
                else set()
            )
        except Exception:
            logger.exception("could not read the failed operations of %s", log_ref(tracker.sender_id))
            return None
        failure = failure_to_offer(failures, rules, offered, now)
        if failure is None:
            return None
        words = services.account.words
        reason = words.reason(failure.reason)
        helper = AccountAnswers(services)
        buttons = helper.offer(reason.offer)
        fix = self.FIX_FOR_KIND.get(failure.kind)
        if fix != reason.offer:
            buttons += helper.offer(fix)
        buttons.append(services.button("talk_to_person"))
        dispatcher.utter_message(
            text=offer_text(rules[failure.kind], failure, words, now),
            buttons=buttons,
            json_message=custom_payload(
                proactive={
                    "id": failure.id,
                    "kind": failure.kind,
                    "reason": failure.reason,
                    "buttons": [b["payload"] for b in buttons],
                }
            ),
        )
        services.record(
            tracker.sender_id,
            PROACTIVE_OFFERED,
            subject=failure.id,
            failure=failure.kind,
            reason=failure.reason,
        )
        if services.analytics is not None:  # once, even in a second chat opened this very second
            try:
                services.analytics.mark_seen(PROACTIVE_OFFERED, failure.id)
            except Exception:
                logger.exception("could not mark offer %s as shown", failure.id)
        problem = f"{failure.kind} of {money(failure.amount)} ({failure.what}) failed: {failure.reason}"
        return [SlotSet(ACCOUNT_PROBLEM, problem)]


def offered_in(tracker: Tracker) -> dict[str, Any] | None:
    """The proactive offer made earlier in this conversation, if any (the newest)."""
    bots = (e for e in reversed(tracker.events) if e.get("event") == "bot")
    return next((p for e in bots if (p := payload(e, "proactive")) is not None), None)


def record_resolution(services: Any, tracker: Tracker, how: str) -> None:
    """A problem solved (a tree answered "yes, solved", a transaction done) in a conversation
    that opened with a proactive offer: the offer's outcome is ``resolved``."""
    from assistant.insights.events import PROACTIVE_OUTCOME

    offer = offered_in(tracker)
    if offer is not None:
        services.record(
            tracker.sender_id,
            PROACTIVE_OUTCOME,
            subject=str(offer.get("id") or ""),
            outcome="resolved",
            failure=offer.get("kind"),
            by=how,
        )


def offer_outcome(tracker: Tracker) -> tuple[dict[str, Any], str] | None:
    """When the customer's latest message answers a proactive offer: the offer and what they did
    (``accepted`` a button of it, asked for a ``person``, or ``ignored`` it)."""
    offers = [p for e in last_reply(tracker) if (p := payload(e, "proactive")) is not None]
    if not offers:
        return None
    offer = offers[-1]
    said = str(tracker.latest_message.get("text") or "")
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if said in (offer.get("buttons") or []) and said != "/request_human":
        return offer, "accepted"
    if intent == "request_human":
        return offer, "person"
    return offer, "ignored"
