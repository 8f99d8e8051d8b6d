"""What the assistant records about itself: answers shown, failed searches, stages, feedback.

Events go to the same database as the handoffs (SQLite by default). The introduction orders its
top tasks by what customers actually asked for most, read from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from assistant.db import open_database, utc_now

ARTICLE_SHOWN = "article_shown"
SEARCH_FAILED = "search_failed"
STAGE_ENTERED = "stage_entered"
TREE_FINISHED = "tree_finished"
RECOMMENDED = "recommended"
PRODUCT_CHOSEN = "product_chosen"
TRANSACTION = "transaction"
ACCOUNT_ANSWER = "account_answer"  # a question answered from the customer's own account
PROACTIVE_OFFERED = "proactive_offered"  # help offered as the chat opened, about a failed operation
PROACTIVE_OUTCOME = "proactive_outcome"  # what the customer did next: accepted, person, ignored


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "analytics_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    stage: Mapped[str] = mapped_column(String(32), default="")
    article_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    subject: Mapped[str] = mapped_column(String(128), default="", index=True)  # e.g. an operation id
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Analytics:
    def __init__(self, url: str):
        self.engine, self._session = open_database(url, Base.metadata)

    def record(
        self,
        conversation_id: str,
        kind: str,
        *,
        stage: str = "",
        article_id: str = "",
        subject: str = "",
        **detail: Any,
    ) -> None:
        with self._session.begin() as s:
            s.add(
                EventRow(
                    conversation_id=conversation_id,
                    kind=kind,
                    stage=stage,
                    article_id=article_id,
                    subject=subject,
                    detail=detail,
                )
            )

    def seen(self, kind: str, subjects: list[str]) -> set[str]:
        """Which of ``subjects`` already have an event of ``kind`` (an offer shown once)."""
        if not subjects:
            return set()
        with self._session() as s:
            rows = s.scalars(
                select(EventRow.subject).where(EventRow.kind == kind, EventRow.subject.in_(subjects))
            )
            return set(rows)

    def top_articles(self, *, days: int = 30, limit: int = 5, min_events: int = 20) -> list[str]:
        """Most shown articles over ``days``; empty when fewer than ``min_events`` were recorded,
        so that a handful of early conversations don't reorder the editor's list."""
        since = utc_now() - dt.timedelta(days=days)
        with self._session() as s:
            count = func.count(func.distinct(EventRow.conversation_id))
            rows = s.execute(
                select(EventRow.article_id, count)
                .where(EventRow.kind == ARTICLE_SHOWN, EventRow.ts >= since, EventRow.article_id != "")
                .group_by(EventRow.article_id)
                .order_by(count.desc(), EventRow.article_id)
            ).all()
        if sum(n for _, n in rows) < min_events:
            return []
        return [article for article, _ in rows[:limit]]

    def counts(self, kind: str, *, by: str = "article_id") -> dict[str, int]:
        column = getattr(EventRow, by)
        with self._session() as s:
            rows = s.execute(select(column, func.count()).where(EventRow.kind == kind).group_by(column)).all()
        return {str(key): int(n) for key, n in rows}

    def events(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(EventRow).where(EventRow.conversation_id == conversation_id).order_by(EventRow.id)
            )
            return [
                {
                    "kind": r.kind,
                    "stage": r.stage,
                    "article_id": r.article_id,
                    "subject": r.subject,
                    "detail": r.detail,
                }
                for r in rows
            ]
