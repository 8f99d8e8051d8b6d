"""Answer from the knowledge base: answer, offer choices, or decline and offer a person."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import ServiceAction
from assistant.kb import ANSWER, CLARIFY, DECLINE, Article, SearchResult

logger = logging.getLogger(__name__)

HUMAN_BUTTON = {"title": "Talk to a person", "payload": "/request_human"}
STAGE = "information_gathering"


def article_button(article_id: str, title: str) -> dict[str, str]:
    return {"title": title, "payload": f'/show_article{{"article_id": "{article_id}"}}'}


def custom_payload(**parts: Any) -> dict[str, Any]:
    """A custom message. Rasa's socket.io channel emits the ``data`` key as the message, so
    the payload sits under it; the ``rest`` channel shows it as ``{"custom": {"data": ...}}``."""
    return {"data": parts}


def kb_payload(
    article: Article, score: float, decision: str, question: str, confidence: float | None = None
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
        }
    )


def utter_article(
    dispatcher: CollectingDispatcher,
    article: Article,
    related: list[Article],
    *,
    score: float,
    decision: str,
    question: str,
    confidence: float | None = None,
) -> None:
    buttons = [article_button(r.id, r.title) for r in related[:2]]
    dispatcher.utter_message(
        text=article.summary,
        buttons=buttons,
        json_message=kb_payload(article, score, decision, question, confidence),
    )


def related_articles(articles: dict[str, Article], article: Article) -> list[Article]:
    return [articles[r] for r in article.related if r in articles]


class ActionKnowledgeBaseAnswer(ServiceAction, Action):
    def name(self) -> str:
        return "action_kb_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        question = (tracker.latest_message.get("text") or "").strip()
        try:
            kb = self.services.kb.get()
            result: SearchResult = kb.search(question)
        except Exception:
            logger.exception("knowledge base unavailable")
            dispatcher.utter_message(response="utter_service_unavailable")
            return [SlotSet("kb_decision", DECLINE)]

        events: list[EventType] = [SlotSet("kb_decision", result.decision), SlotSet("stage", STAGE)]
        articles = kb.index.articles
        if result.decision == ANSWER and result.best is not None:
            article = articles[result.best.id]
            utter_article(
                dispatcher,
                article,
                related_articles(articles, article),
                score=result.best.score,
                decision=ANSWER,
                question=question,
                confidence=result.confidence,
            )
            events.append(SlotSet("kb_article", article.id))
        elif result.decision == CLARIFY:
            options = result.articles[: kb.settings.clarify_options]
            dispatcher.utter_message(
                response="utter_kb_clarify",
                buttons=[article_button(h.id, h.title) for h in options]
                + [{"title": "None of these", "payload": "/request_human"}],
                json_message=custom_payload(
                    kb={
                        "decision": CLARIFY,
                        "confidence": result.confidence,
                        "coverage": result.coverage,
                        "question": question,
                        "options": [{"article_id": h.id, "score": round(h.score, 4)} for h in options],
                        "article_id": options[0].id if options else None,
                        "score": round(options[0].score, 4) if options else None,
                    }
                ),
            )
        else:
            best = result.best
            dispatcher.utter_message(
                response="utter_kb_decline",
                buttons=[HUMAN_BUTTON],
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


class ActionShowArticle(ServiceAction, Action):
    """Show the article a button points at (top tasks, choices, related articles)."""

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
            dispatcher.utter_message(response="utter_kb_decline", buttons=[HUMAN_BUTTON])
            return [SlotSet("kb_decision", DECLINE)]
        utter_article(
            dispatcher,
            article,
            related_articles(articles, article),
            score=1.0,
            decision="selected",
            question=article.title,
        )
        return [SlotSet("kb_article", article.id), SlotSet("kb_decision", ANSWER), SlotSet("stage", STAGE)]
