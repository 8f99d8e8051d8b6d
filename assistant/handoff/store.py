"""Handoff records in a SQL database through SQLAlchemy (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, and_, func, or_, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from assistant.db import open_database, utc_now
from assistant.handoff.redact import redact, redact_text

STATUSES = ("queued", "claimed", "resumed", "closed")


class Base(DeclarativeBase):
    pass


class HandoffRecord(Base):
    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    reason: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    customer_id: Mapped[str] = mapped_column(String(64), default="")

    def to_dict(self, *, transcript: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "reason": self.reason,
            "stage": self.stage,
            "status": self.status,
            "slots": self.slots,
            "summary": self.summary or "",
            "priority": self.priority or 0,
            "customer_id": self.customer_id or "",
            "turns": len(self.transcript or []),
        }
        if transcript:
            data["transcript"] = self.transcript
        return data


class HandoffStore:
    """Creates and reads handoff records. One instance per process; thread-safe sessions."""

    def __init__(self, url: str, *, redact: bool = False):
        self.redact = redact  # replace card numbers, emails and phone numbers before storing
        self.engine, self._session = open_database(url, Base.metadata)

    def create(
        self,
        conversation_id: str,
        *,
        reason: str,
        stage: str,
        transcript: list[dict[str, Any]],
        slots: dict[str, Any],
        summary: str = "",
        priority: int = 0,
        customer_id: str = "",
    ) -> HandoffRecord:
        if self.redact:
            transcript, slots, summary = redact(transcript), redact(slots), redact_text(summary)
        record = HandoffRecord(
            conversation_id=conversation_id,
            reason=reason,
            stage=stage or "",
            status="queued",
            transcript=transcript,
            slots=slots,
            summary=summary,
            priority=priority,
            customer_id=customer_id,
        )
        with self._session.begin() as session:
            session.add(record)
        return record

    def get(self, handoff_id: int) -> HandoffRecord | None:
        with self._session() as session:
            return session.get(HandoffRecord, handoff_id)

    def list(
        self,
        *,
        status: str | None = None,
        conversation_id: str | None = None,
        reason: str | None = None,
        stage: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> list[HandoffRecord]:
        """Newest first, filtered by any of status, conversation, reason, stage and date range."""
        query = select(HandoffRecord).order_by(HandoffRecord.id.desc())
        for column, value in (
            (HandoffRecord.status, status),
            (HandoffRecord.conversation_id, conversation_id),
            (HandoffRecord.reason, reason),
            (HandoffRecord.stage, stage),
        ):
            if value:
                query = query.where(column == value)
        if since:
            query = query.where(HandoffRecord.created_at >= since)
        if until:
            query = query.where(HandoffRecord.created_at < until)
        with self._session() as session:
            return list(session.scalars(query))

    def open_for(self, conversation_id: str) -> HandoffRecord | None:
        """The conversation's handoff that is still waiting or with an agent, if any."""
        query = (
            select(HandoffRecord)
            .where(HandoffRecord.conversation_id == conversation_id)
            .where(HandoffRecord.status.in_(("queued", "claimed")))
            .order_by(HandoffRecord.id.desc())
        )
        with self._session() as session:
            return session.scalars(query).first()

    def queue_position(self, handoff_id: int) -> int | None:
        """1 for the next handoff an agent takes; None when this one is not queued. Higher
        priority goes first, then the oldest."""
        with self._session() as session:
            record = session.get(HandoffRecord, handoff_id)
            if record is None or record.status != "queued":
                return None
            ahead = session.scalar(
                select(func.count())
                .select_from(HandoffRecord)
                .where(
                    HandoffRecord.status == "queued",
                    or_(
                        HandoffRecord.priority > record.priority,
                        and_(HandoffRecord.priority == record.priority, HandoffRecord.id < handoff_id),
                    ),
                )
            )
            return int(ahead or 0) + 1

    def set_status(self, handoff_id: int, status: str) -> HandoffRecord:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        with self._session.begin() as session:
            record = session.get(HandoffRecord, handoff_id)
            if record is None:
                raise KeyError(handoff_id)
            record.status = status
        return record

    def dispose(self) -> None:
        self.engine.dispose()
