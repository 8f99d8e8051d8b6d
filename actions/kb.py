"""Information gathering: answer from the knowledge base (answer, offer choices, or decline and
offer a person), show an article a button points at, and browse categories and articles."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.account import AccountAnswers
from actions.common import (
    COMPARISON,
    INFORMATION,
    MISSES,
    TRANSACTION,
    custom_payload,
    intent_button,
    last_task,
)
from actions.services import ServiceAction
from actions.tickets import answer_if_waiting
from assistant.chat_session import log_ref
from assistant.conversation.understand import looks_like_question
from assistant.guided.matching import normal
from assistant.insights.events import ARTICLE_SHOWN, CLARIFIED, SEARCH_FAILED
from assistant.kb import ANSWER, CLARIFY, DECLINE, Article, SearchResult

logger = logging.getLogger(__name__)

STAGE = INFORMATION
ESCALATE = "escalate"  # declined again: the customer goes to a person without having to ask
RELATED = 2
FORM_BUTTONS = {"order_card": "order_card_now", "freeze_card": "freeze_card_now", "transfer": "transfer_now"}
FORM_OF = {"order_card": "order_card_form", "freeze_card": "freeze_card_form", "transfer": "transfer_form"}


def one_line(article: Article, limit: int = 160) -> str:
    """An article's first sentence, to tell choices apart at a glance."""
    summary = " ".join(article.summary.replace("**", "").split())
    sentence = re.split(r"(?<=[.!?])\s", summary, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def article_button(article_id: str, title: str) -> dict[str, str]:
    return {"title": title, "payload": f'/show_article{{"article_id": "{article_id}"}}'}


def kb_payload(
    article: Article,
    score: float,
    decision: str,
    question: str,
    confidence: float | None = None,
    related: list[Article] | None = None,
) -> dict[str, Any]:
    return custom_payload(
        kb={
            "article_id": article.id,
            "title": article.title,
            "category": article.category,
            "score": round(score, 4),
            "decision": decision,
            "confidence": confidence,
            "question": question,
            "related": [{"article_id": r.id, "title": r.title} for r in related or []],
        }
    )


def related_articles(
    articles: dict[str, Article], article: Article, neighbours: list[str] | None = None
) -> list[Article]:
    """The editor's related articles first, then the nearest other search hits."""
    ids = [r for r in article.related if r in articles]
    for other in neighbours or []:
        if other != article.id and other not in ids and other in articles:
            ids.append(other)
    return [articles[i] for i in ids[:RELATED]]


class ArticleAnswer(ServiceAction):
    """Shared by the actions that show an article: buttons for related articles, for doing the
    thing now (a form), and for fixing it step by step (a troubleshooting tree)."""

    def show(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        article: Article,
        related: list[Article],
        *,
        score: float,
        decision: str,
        question: str,
        confidence: float | None = None,
    ) -> None:
        buttons = []
        form = self.services.content.article_actions.get(article.id)
        if form:
            buttons.append(self.services.button(FORM_BUTTONS[form]))
        tree = self.services.trees.for_article(article.id) if self.services.trees else None
        if tree is not None:
            buttons.append(self.services.button("fix_step_by_step", tree_id=tree.id))
        buttons += [article_button(r.id, r.title) for r in related]
        dispatcher.utter_message(
            text=article.summary,
            buttons=buttons,
            json_message=kb_payload(article, score, decision, question, confidence, related),
        )
        self.services.record(
            tracker.sender_id, ARTICLE_SHOWN, stage=STAGE, article_id=article.id, decision=decision,
            question=question[:500], score=round(score, 4),
            confidence=round(confidence, 4) if confidence is not None else None,
        )  # fmt: skip


def offer_choices(
    services: Any,
    dispatcher: CollectingDispatcher,
    question: str,
    options: list[Article],
    *,
    scores: list[float] | None = None,
    **detail: Any,
) -> None:
    """A choice of articles, each with its first sentence, and a person if none fits."""
    scored: list[float | None] = list(scores) if scores else [None] * len(options)
    dispatcher.utter_message(
        response="utter_kb_clarify",
        options="\n".join(f"• **{a.title}**: {one_line(a)}" for a in options),
        buttons=[article_button(a.id, a.title) for a in options] + [services.button("none_of_these")],
        json_message=custom_payload(
            kb={
                "decision": CLARIFY,
                "question": question,
                **detail,
                "options": [
                    {
                        "article_id": a.id,
                        "score": round(sc, 4) if sc is not None else None,
                        "summary": one_line(a),
                    }
                    for a, sc in zip(options, scored, strict=True)
                ],
                "article_id": options[0].id if options else None,
                "score": round(scored[0], 4) if options and scored[0] is not None else None,
            }
        ),
    )
    # the running action's conversation: the record travels with its events
    services.record("", CLARIFIED, stage=STAGE, question=question[:500], options=[a.id for a in options])


def answer_in_passing(
    services: Any, dispatcher: CollectingDispatcher, tracker: Tracker, question: str
) -> bool:
    """A question asked inside a form or a tree: answer it from the knowledge base when it is
    sure (the article's summary, recorded as shown), so the form can ask its question again.
    False when the knowledge base would only clarify or decline, or is unavailable."""
    try:
        kb = services.kb.get()
        result: SearchResult = kb.search(question)
        if result.decision != ANSWER:
            # read with what the customer asked before ("how long will a new one take?")
            previous = previous_question(tracker)
            if previous:
                result = kb.search(f"{question} {previous}")
    except Exception:
        logger.exception("knowledge base unavailable")
        return False
    if result.decision != ANSWER or result.best is None:
        return False
    article = kb.index.articles[result.best.id]
    dispatcher.utter_message(
        text=article.summary,
        json_message=kb_payload(article, result.best.score, "digression", question, result.confidence),
    )
    services.record(
        tracker.sender_id, ARTICLE_SHOWN, stage=STAGE, article_id=article.id, decision="digression",
        question=question[:500],
    )  # fmt: skip
    return True


# Asking for a recommendation: "which account would suit me", "what would you recommend",
# "the best plan for someone who…", "which of your options is safest…".
_RECOMMEND = re.compile(
    r"\b(recommend|suggest|suits?|suited|right for me|best for me|should i (?:get|choose|pick|go for)|"
    r"which (?:one|account|plan|card|option)s?|(?:best|safest|cheapest) (?:account|plan|card|option)s?|"
    r"which of your)\b",
    re.IGNORECASE,
)
FOLLOW_UP_WORDS = 12  # a question this short, right after an answer, may lean on it
_FOLLOW_UP_CUE = re.compile(
    r"^\s*(?:and|but|so|also|what about|how about|same|is it|is that|does it|does that|would it|"
    r"can it|will it|then|ok(?:ay)? and)\b|\b(?:it|that|them|those|instead)\b",
    re.IGNORECASE,
)


def follow_up_context(tracker: Tracker, question: str) -> str | None:
    """What the customer asked before, when this message is a follow-up to the answer they just
    got or the choices just offered: short, or leaning on it ("and how much is it?", "is it the
    same in euros?"). None for a new topic, or when nothing was discussed just before."""
    decision = tracker.get_slot("kb_decision")
    answered = decision == ANSWER and tracker.get_slot("kb_article")
    if not answered and decision != CLARIFY:  # nothing just discussed to lean on
        return None
    said = re.findall(r"[\w']+", question.lower())
    if not said or len(said) > FOLLOW_UP_WORDS or (len(said) > 3 and not _FOLLOW_UP_CUE.search(question)):
        return None
    return previous_question(tracker)


def previous_question(tracker: Tracker) -> str | None:
    """What the customer typed before this message (button payloads skipped)."""
    before = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"][:-1]
    return next((t for t in reversed(before) if t and not t.startswith("/")), None)


class ActionKnowledgeBaseAnswer(ArticleAnswer, Action):
    def name(self) -> str:
        return "action_kb_answer"

    def act_at_once(self, tracker: Tracker, article_id: str, question: str) -> list[EventType]:
        """After an article whose form is one to act on at once (freezing a lost card), a signed-in
        customer telling of their own situation gets the form started under the answer."""
        from actions.forms import CustomerOptions
        from assistant.conversation.understand import starts_like_question

        form = self.services.content.article_actions.get(article_id)
        if form not in self.services.content.act_at_once or tracker.active_loop_name:
            return []
        said = normal(question).split()
        own = bool({"my", "i", "i've", "ive", "im", "i'm", "me", "mine"} & set(said))
        if not own or (starts_like_question(said) and said[0] not in ("can", "could")):
            return []
        if CustomerOptions(self.services).customer(tracker) is None:
            return []
        return [
            SlotSet("signed_in", True),
            SlotSet(MISSES, {}),
            SlotSet("stage", TRANSACTION),
            FollowupAction(FORM_OF[form]),
        ]

    def requested_task(self, tracker: Tracker, question: str) -> str | None:
        """The transaction a signed-in customer asks for in words NLU took for a question."""
        from actions.forms import CustomerOptions, spec_of
        from assistant.conversation.understand import requested_task

        if self.services.forms is None or self.services.backoffice is None or tracker.active_loop_name:
            return None
        helper = CustomerOptions(self.services)
        if helper.customer(tracker) is None:
            return None
        spec = spec_of(self.services)
        transfer = [f for f in (spec.field("transfer_payee"), spec.field("transfer_amount")) if f]
        if len(transfer) < 2:
            return None
        try:
            payees = helper.options_for(tracker, transfer[0])
        except Exception:
            logger.exception("could not read the payees of %s", log_ref(tracker.sender_id))
            return None
        return requested_task(question, transfer, spec, payees)

    def requested_comparison(self, tracker: Tracker, question: str) -> bool:
        """A message that asks which product suits the customer and states a need of theirs."""
        catalog = self.services.catalog
        if catalog is None or tracker.active_loop_name or not _RECOMMEND.search(question):
            return False
        return any(catalog.need(n).spotted(question) for n in catalog.needs)

    def same_again(self, tracker: Tracker, domain: DomainDict, question: str) -> str | None:
        """The form of the transaction just done, when this message asks for it again ("and for
        the other card?"); the form then reads the message against that transaction's values."""
        from actions.transactions import spec_fields
        from assistant.conversation.understand import again

        done = last_task(tracker)
        if done is None or self.services.forms is None or tracker.active_loop_name:
            return None
        form = str(done.get("form") or "")
        fields = spec_fields(self.services, domain, form)
        return form if fields and again(question, fields, done.get("values") or {}) else None

    def task_topic(self, tracker: Tracker, question: str) -> str | None:
        """What a short question right after a transaction leans on ("when would it arrive
        then?" after ordering a card): the form's topic (data/forms.yml ``topics:``)."""
        done = last_task(tracker)
        if done is None or self.services.forms is None:
            return None
        if len(re.findall(r"[\w']+", question)) > FOLLOW_UP_WORDS:
            return None
        return self.services.forms.topics.get(str(done.get("form") or ""))

    def repeated(self, tracker: Tracker, article_id: str) -> bool:
        """The customer asks what they just asked, and would get the article they just got."""
        if not self.services.content.handoff.on_repetition or tracker.get_slot("kb_article") != article_id:
            return False
        said = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
        return len(said) >= 2 and normal(said[-1]) == normal(said[-2]) != ""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        question = (tracker.latest_message.get("text") or "").strip()
        status = CollectingDispatcher()
        if answer_if_waiting(self.services, status, tracker):
            # waiting for a person: a sure answer if there is one, then where they stand
            answer_in_passing(self.services, dispatcher, tracker, question)
            dispatcher.messages.extend(status.messages)
            return []
        if self.requested_comparison(tracker, question):
            # "I travel a lot: which account would suit me?" read as a question: the comparison,
            # whose opening reads the needs the message states
            return [SlotSet("stage", COMPARISON), SlotSet(MISSES, {}), FollowupAction("product_needs_form")]
        task = self.requested_task(tracker, question) or self.same_again(tracker, domain, question)
        if task is not None:
            # "can you pay Sam Carter for me?" read as a question: the customer's own payees and
            # cards say it is the transfer (freeze, order) itself; the form reads this message
            return [
                SlotSet("signed_in", True),
                SlotSet("stage", TRANSACTION),
                SlotSet(MISSES, {}),
                FollowupAction(task),
            ]
        try:
            kb = self.services.kb.get()
            result: SearchResult = kb.search(question)
            context = follow_up_context(tracker, question) or self.task_topic(tracker, question)
            if context is not None and result.decision != ANSWER:
                # a short follow-up ("and in euros?") read with what was just discussed
                with_context = kb.search(f"{question} {context}")
                if with_context.decision == ANSWER or (
                    with_context.decision == CLARIFY and result.decision == DECLINE
                ):
                    result = with_context
        except Exception:
            logger.exception("knowledge base unavailable")
            dispatcher.utter_message(response="utter_service_unavailable")
            return [SlotSet("kb_decision", DECLINE)]

        articles = kb.index.articles
        account = AccountAnswers(self.services)
        asked = account.question(tracker, question, result)
        sign_in_note = None
        if asked is not None and not account.signed_in(tracker) and result.decision == ANSWER:
            # not signed in, and the article answers it: the article, then what signing in adds
            sign_in_note = asked
        elif asked is not None:
            # about the customer's own account: the facts first, the article as more help
            replied = account.reply(dispatcher, tracker, asked, result, articles)
            if replied is not None:
                return replied
        events: list[EventType] = [
            SlotSet("kb_decision", result.decision),
            SlotSet("stage", STAGE),
            SlotSet("failed_turns", 0),
        ]
        if result.decision == ANSWER and result.best is not None and self.repeated(tracker, result.best.id):
            # the same question again, after this very answer: it did not help
            dispatcher.utter_message(response="utter_repeated_handoff")
            return [
                SlotSet("kb_decision", ESCALATE),
                SlotSet("stage", STAGE),
                SlotSet("handoff_reason", "repeated_question"),
            ]
        if (
            result.decision == ANSWER
            and result.best is not None
            and result.best.id == tracker.get_slot("kb_article")
            and tracker.get_slot("kb_decision") == ANSWER
        ):
            # the article just shown, to a different question: it is not the answer again; what
            # is near it (its related articles, the other hits) may be
            shown = articles[result.best.id]
            nearby = related_articles(articles, shown, [h.id for h in result.articles])
            if nearby:
                offer_choices(self.services, dispatcher, question, nearby, not_again=shown.id)
                return [SlotSet("kb_decision", CLARIFY), SlotSet("stage", STAGE), SlotSet("failed_turns", 0)]
        if result.decision == ANSWER and result.best is not None:
            article = articles[result.best.id]
            tree = self.services.trees.for_article(article.id) if self.services.trees else None
            if tree is not None and tracker.get_slot("expertise") == "novice":
                # Novices are offered the guided path (the answer's first button), never put in it:
                # a question that only sounds like the problem is answered, not walked through.
                dispatcher.utter_message(response="utter_guided_offer", title=tree.title)
            self.show(
                dispatcher,
                tracker,
                article,
                related_articles(articles, article, [h.id for h in result.articles]),
                score=result.best.score,
                decision=ANSWER,
                question=question,
                confidence=result.confidence,
            )
            events.append(SlotSet("kb_article", article.id))
            events += self.act_at_once(tracker, article.id, question)
            if sign_in_note is not None:
                account.sign_in_note(dispatcher, sign_in_note)
        elif result.decision == CLARIFY:
            options = result.articles[: kb.settings.clarify_options]
            offer_choices(
                self.services,
                dispatcher,
                question,
                [articles[h.id] for h in options],
                scores=[h.score for h in options],
                confidence=result.confidence,
                coverage=result.coverage,
            )
        else:
            best = result.best
            self.services.record(tracker.sender_id, SEARCH_FAILED, stage=STAGE, question=question[:500])
            failed = int(tracker.get_slot("failed_turns") or 0) + 1
            limit = self.services.content.handoff.after_failed_turns
            if limit and failed >= limit:
                dispatcher.utter_message(response="utter_handoff_after_failures")
                return [
                    SlotSet("kb_decision", ESCALATE),
                    SlotSet("stage", STAGE),
                    SlotSet("failed_turns", 0),
                    SlotSet("handoff_reason", "understanding_failed"),
                ]
            events.append(SlotSet("failed_turns", failed))
            dispatcher.utter_message(
                response="utter_kb_decline",
                buttons=[self.services.button("talk_to_person")],
                json_message=custom_payload(
                    kb={
                        "decision": DECLINE,
                        "confidence": result.confidence,
                        "question": question,
                        "article_id": None,
                        "score": round(best.score, 4) if best else None,
                    }
                ),
            )
        return events


class ActionShowArticle(ArticleAnswer, Action):
    """Show the article a button points at (top tasks, choices, related articles, browsing)."""

    def name(self) -> str:
        return "action_show_article"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        article_id = next(tracker.get_latest_entity_values("article_id"), None)
        try:
            articles = self.services.kb.get().index.articles
        except Exception:
            logger.exception("knowledge base unavailable")
            dispatcher.utter_message(response="utter_service_unavailable")
            return []
        article = articles.get(article_id or "")
        if article is None:
            dispatcher.utter_message(
                response="utter_kb_decline", buttons=[self.services.button("talk_to_person")]
            )
            return [SlotSet("kb_decision", DECLINE)]
        self.show(
            dispatcher,
            tracker,
            article,
            related_articles(articles, article),
            score=1.0,
            decision="selected",
            question=article.title,
        )
        return [SlotSet("kb_article", article.id), SlotSet("kb_decision", ANSWER), SlotSet("stage", STAGE)]


class ActionBrowse(ServiceAction, Action):
    """Browse without typing: categories, then the articles of one category, as buttons."""

    def name(self) -> str:
        return "action_browse"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            articles = self.services.kb.get().index.articles
        except Exception:
            logger.exception("knowledge base unavailable")
            dispatcher.utter_message(response="utter_service_unavailable")
            return []
        categories: dict[str, list[Article]] = {}
        for article in articles.values():
            categories.setdefault(article.category, []).append(article)
        wanted = next(tracker.get_latest_entity_values("kb_category"), None)
        chosen = next((c for c in categories if wanted and c.lower() == str(wanted).lower()), None)
        if chosen is None:
            buttons = [
                intent_button(f"{name} ({len(items)})", "browse", kb_category=name)
                for name, items in sorted(categories.items())
            ]
            if self.services.trees:
                buttons.append(self.services.button("troubleshoot"))
            dispatcher.utter_message(
                response="utter_browse_categories" if not wanted else "utter_browse_unknown_category",
                buttons=buttons,
                json_message=custom_payload(browse={"categories": sorted(categories)}),
            )
            return [SlotSet("stage", STAGE), SlotSet("kb_category", None)]
        items = sorted(categories[chosen], key=lambda a: a.title)
        dispatcher.utter_message(
            response="utter_browse_articles",
            category=chosen,
            buttons=[article_button(a.id, a.title) for a in items] + [self.services.button("all_topics")],
            json_message=custom_payload(
                browse={
                    "category": chosen,
                    "articles": [{"article_id": a.id, "title": a.title} for a in items],
                }
            ),
        )
        return [SlotSet("stage", STAGE), SlotSet("kb_category", chosen)]


class ActionOutsideATask(ServiceAction, Action):
    """ "cancel", "help", a plain yes or no, or a leftover button when no task is open. A real
    question in those words ("can I cancel a transfer that's pending?", "what does pending
    mean?") is answered from the knowledge base, and so is a follow-up to an account answer ("why
    not?"); a bare "cancel", "help", yes or no gets the short answer it always had."""

    SHORT = {
        "cancel": "utter_anything_else",
        "choose": "utter_anything_else",
        "affirm": "utter_anything_else",
        "deny": "utter_anything_else",
    }

    def name(self) -> str:
        return "action_outside_a_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        from actions.greet import ActionGreet

        text = (tracker.latest_message.get("text") or "").strip()
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        typed = not text.startswith("/")
        follow_up = typed and AccountAnswers(self.services).follows_up(tracker, text)
        if follow_up or (typed and (looks_like_question(text) or len(normal(text).split()) > 4)):
            # a real question, or "why not?" / "and the other one" after an account answer
            return list(await ActionKnowledgeBaseAnswer(self.services).run(dispatcher, tracker, domain))
        if intent in self.SHORT:
            dispatcher.utter_message(response=self.SHORT[intent])
            return []
        return list(await ActionGreet(self.services).run(dispatcher, tracker, domain))
