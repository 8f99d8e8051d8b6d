"""Handoff records in a SQL database through SQLAlchemy (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, and_, func, or_, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from assistant.db import as_utc, open_database, utc_now
from assistant.handoff.redact import redact, redact_account_text, redact_text, redact_transcript

STATUSES = ("queued", "claimed", "resumed", "closed")
OPEN_STATUSES = ("queued", "claimed")
# How an agent closes a conversation; "handed_back" (back to the bot) and "ticket" (the customer
# left a message) are set by those actions.
OUTCOMES = ("resolved", "follow_up", "not_resolved", "duplicate")
AUTO_OUTCOMES = ("handed_back", "ticket")
MAX_TAGS, MAX_TAG_CHARS, MAX_NOTE_CHARS = 12, 32, 4000
TICKET_STATUSES = ("open", "done")


# Every list the store returns is bounded: a page of the review list by default, and never more
# than an export's worth of rows, so no caller reads a whole table into memory by accident.
LIST_LIMIT = 200  # the review list, the command line's list, a conversation's handoffs
QUEUE_LIMIT = 500  # open handoffs shown to agents at once, and long waits told per round
TICKET_LIMIT = 200  # tickets listed at once
EXPORT_LIMIT = 10_000  # the most rows one export (or any list) returns: narrow the dates for more



MAX_KEY = 2**63 - 1  # the largest id a database integer key holds (SQLite and PostgreSQL BIGINT)


def _key(value: int) -> int:
    """An id for a primary-key lookup; one no database could hold matches nothing (0, never an
    overflow error): a URL with 30 digits is a 404, not a 500."""
    return value if 0 < value <= MAX_KEY else 0


class HandoffError(Exception):
    """A handoff operation refused. The web layer maps each kind to one HTTP status and the
    command line prints it, so no caller has to inspect return values for failure."""


class HandoffNotFound(HandoffError, KeyError):
    """No such handoff (or ticket). A KeyError too, for callers that look records up by id."""

    what = "handoff"

    def __init__(self, record_id: int):
        super().__init__(record_id)
        self.record_id = record_id

    def __str__(self) -> str:  # KeyError's own str() would quote the id
        return f"no {self.what} {self.record_id}"


class TicketNotFound(HandoffNotFound):
    what = "ticket"


class HandoffConflict(HandoffError):
    """The handoff is not in a state that allows this (claimed by someone else, already closed)."""


class HandoffNotOpen(HandoffConflict):
    """The customer is no longer waiting or with an agent: handed back, closed, or a ticket."""


class NotYours(HandoffConflict):
    """Another agent has the conversation."""


class InvalidRequest(HandoffError, ValueError):
    """What was asked is malformed: an unknown outcome or status, bad tags, an empty note."""


def bounded(limit: int, maximum: int = EXPORT_LIMIT) -> int:
    """``limit`` rows, at most ``maximum``: callers may ask for fewer, never for everything."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequest(f"limit must be 1 to {maximum}")
    return min(limit, maximum)


def _clean_tags(tags: list[str]) -> list[str]:
    clean: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidRequest("tags are strings")
        tag = " ".join(tag.strip().lower().split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise InvalidRequest(f"a tag has at most {MAX_TAG_CHARS} characters")
        if tag not in clean:
            clean.append(tag)
    if len(clean) > MAX_TAGS:
        raise InvalidRequest(f"at most {MAX_TAGS} tags")
    return clean


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).isoformat()


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
    agent: Mapped[str] = mapped_column(String(64), default="", index=True)  # user name
    agent_name: Mapped[str] = mapped_column(String(128), default="")
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32), default="", index=True)
    wait_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    tags: Mapped[list[HandoffTag]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="HandoffTag.tag"
    )
    notes: Mapped[list[HandoffNote]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="HandoffNote.id"
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]

    def to_dict(self, *, transcript: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "created_at": _iso(self.created_at),
            "reason": self.reason,
            "stage": self.stage,
            "status": self.status,
            "slots": self.slots,
            "summary": self.summary or "",
            "priority": self.priority or 0,
            "customer_id": self.customer_id or "",
            "turns": len(self.transcript or []),
            "agent": self.agent or "",
            "agent_name": self.agent_name or "",
            "claimed_at": _iso(self.claimed_at),
            "closed_at": _iso(self.closed_at),
            "outcome": self.outcome or "",
            "tags": self.tag_names,
            "notes": [n.to_dict() for n in self.notes],
        }
        if transcript:
            data["transcript"] = self.transcript
        return data


class HandoffTag(Base):
    __tablename__ = "handoff_tags"

    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(MAX_TAG_CHARS), primary_key=True, index=True)


class HandoffNote(Base):
    """A support lead's note on a handoff, for review and coaching."""

    __tablename__ = "handoff_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    def to_dict(self) -> dict[str, Any]:
        return {"author": self.author, "text": self.text, "created_at": _iso(self.created_at)}


class Ticket(Base):
    """A message left for the team when no one could take the conversation."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    handoff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    customer_id: Mapped[str] = mapped_column(String(64), default="")
    contact: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    closed_by: Mapped[str] = mapped_column(String(64), default="")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "conversation_id": self.conversation_id,
            "handoff_id": self.handoff_id,
            "customer_id": self.customer_id or "",
            "contact": self.contact,
            "message": self.message,
            "status": self.status,
            "closed_by": self.closed_by or "",
        }


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
            problem = slots.get("account_problem")
            if isinstance(problem, str) and problem:  # a fact from the account: amounts and digits too
                slots = {**slots, "account_problem": redact_account_text(problem)}
                summary = summary.replace(problem[:200], slots["account_problem"])
            transcript, slots, summary = redact_transcript(transcript), redact(slots), redact_text(summary)
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
            return session.get(HandoffRecord, _key(handoff_id))

    def list(
        self,
        *,
        status: str | None = None,
        conversation_id: str | None = None,
        reason: str | None = None,
        stage: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        outcome: str | None = None,
        agent: str | None = None,
        tag: str | None = None,
        limit: int = LIST_LIMIT,
    ) -> list[HandoffRecord]:
        """The newest ``limit`` (at most EXPORT_LIMIT), filtered by any of status, conversation,
        reason, stage, outcome, agent, tag and date range."""
        query = select(HandoffRecord).order_by(HandoffRecord.id.desc()).limit(bounded(limit))
        for column, value in (
            (HandoffRecord.status, status),
            (HandoffRecord.conversation_id, conversation_id),
            (HandoffRecord.reason, reason),
            (HandoffRecord.stage, stage),
            (HandoffRecord.outcome, outcome),
            (HandoffRecord.agent, agent),
        ):
            if value:
                query = query.where(column == value)
        if tag:
            query = query.where(
                HandoffRecord.id.in_(
                    select(HandoffTag.handoff_id).where(HandoffTag.tag == tag.strip().lower())
                )
            )
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
            .limit(1)
        )
        with self._session() as session:
            return session.scalars(query).first()

    def for_conversation(
        self, conversation_id: str, since: dt.datetime, until: dt.datetime | None = None
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """The handoffs (oldest first) and the number of tickets of one conversation between
        ``since`` and ``until``, for the analytics' labels."""
        handoffs = select(HandoffRecord).where(
            HandoffRecord.conversation_id == conversation_id, HandoffRecord.created_at >= since
        )
        tickets = select(func.count()).select_from(Ticket).where(
            Ticket.conversation_id == conversation_id, Ticket.created_at >= since
        )
        if until is not None:
            handoffs = handoffs.where(HandoffRecord.created_at < until)
            tickets = tickets.where(Ticket.created_at < until)
        with self._session() as session:
            found = [
                {
                    "id": r.id,
                    "created_at": as_utc(r.created_at),
                    "reason": r.reason,
                    "stage": r.stage,
                    "status": r.status,
                    "outcome": r.outcome,
                }
                for r in session.scalars(handoffs.order_by(HandoffRecord.id))
            ]
            return found, int(session.scalar(tickets) or 0)

    def closed_resolved(self, since: dt.datetime, limit: int = 500) -> builtins.list[HandoffRecord]:
        """Handoffs an agent closed as resolved since ``since``, newest first (content gaps)."""
        query = (
            select(HandoffRecord)
            .where(HandoffRecord.outcome == "resolved", HandoffRecord.closed_at >= since)
            .order_by(HandoffRecord.id.desc())
            .limit(limit)
        )
        with self._session() as session:
            return list(session.scalars(query))

    def count_since(self, since: dt.datetime, *, conversation_id: str = "", customer_id: str = "") -> int:
        """Handoffs created since ``since`` for a conversation or a customer (for rate limits)."""
        query = select(func.count()).select_from(HandoffRecord).where(HandoffRecord.created_at >= since)
        if conversation_id:
            query = query.where(HandoffRecord.conversation_id == conversation_id)
        if customer_id:
            query = query.where(HandoffRecord.customer_id == customer_id)
        with self._session() as session:
            return int(session.scalar(query) or 0)

    def queue_position(self, handoff_id: int) -> int | None:
        """1 for the next handoff an agent takes; None when this one is not queued. Higher
        priority goes first, then the oldest."""
        with self._session() as session:
            record = session.get(HandoffRecord, _key(handoff_id))
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

    def queue(self, limit: int = QUEUE_LIMIT) -> builtins.list[HandoffRecord]:
        """The first ``limit`` (at most QUEUE_LIMIT) open handoffs in the order agents should take
        them: highest priority, then oldest (as :meth:`queue_position` counts); the ones already
        claimed after those still waiting."""
        query = (
            select(HandoffRecord)
            .where(HandoffRecord.status.in_(OPEN_STATUSES))
            .order_by((HandoffRecord.status == "claimed"), HandoffRecord.priority.desc(), HandoffRecord.id)
            .limit(bounded(limit, QUEUE_LIMIT))
        )
        with self._session() as session:
            return list(session.scalars(query))

    def set_status(self, handoff_id: int, status: str) -> HandoffRecord:
        if status not in STATUSES:
            raise InvalidRequest(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        with self._session.begin() as session:
            record = self._require(session, handoff_id)
            record.status = status
        return record

    @staticmethod
    def _require(session: Any, handoff_id: int) -> HandoffRecord:
        # FOR UPDATE: two agents claiming at once on PostgreSQL take turns (SQLite locks anyway)
        record = session.get(HandoffRecord, _key(handoff_id), with_for_update=True)
        if record is None:
            raise HandoffNotFound(handoff_id)
        return record

    def claim(self, handoff_id: int, agent: str, agent_name: str = "") -> HandoffRecord:
        """Give the handoff to ``agent``. Claiming one's own again is fine; another agent's is a
        conflict (take over by asking them, or a lead closes it)."""
        with self._session.begin() as session:
            record = self._require(session, handoff_id)
            if record.status not in OPEN_STATUSES:
                raise HandoffNotOpen(f"handoff {handoff_id} is already {record.status}")
            if record.status == "claimed" and record.agent and record.agent != agent:
                raise NotYours(f"handoff {handoff_id} is with {record.agent_name or record.agent}")
            if record.status == "queued" or not record.agent:
                record.status, record.agent = "claimed", agent
                record.agent_name, record.claimed_at = agent_name or agent, utc_now()
        return record

    def finish(
        self,
        handoff_id: int,
        *,
        status: str,
        outcome: str,
        tags: builtins.list[str] | None = None,
        agent: str = "",
        transcript: builtins.list[dict[str, Any]] | None = None,
    ) -> HandoffRecord:
        """Hand back (status resumed) or close it, with an outcome and, optionally, tags and the
        whole transcript (with the agent's part) to keep for review."""
        if status not in ("resumed", "closed"):
            raise InvalidRequest("a handoff finishes as resumed or closed")
        if outcome not in OUTCOMES + AUTO_OUTCOMES:
            raise InvalidRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
        clean = _clean_tags(tags or [])
        with self._session.begin() as session:
            record = self._require(session, handoff_id)
            if record.status not in OPEN_STATUSES:
                raise HandoffNotOpen(f"handoff {handoff_id} is already {record.status}")
            if agent and record.status == "claimed" and record.agent and record.agent != agent:
                raise NotYours(f"handoff {handoff_id} is with {record.agent_name or record.agent}")
            record.status, record.outcome, record.closed_at = status, outcome, utc_now()
            if transcript is not None:
                record.transcript = redact_transcript(transcript) if self.redact else transcript
            if clean:
                self._replace_tags(session, record, clean)
        return self.get(handoff_id) or record

    def _replace_tags(self, session: Any, record: HandoffRecord, tags: builtins.list[str]) -> None:
        record.tags.clear()
        session.flush()
        record.tags.extend(HandoffTag(handoff_id=record.id, tag=t) for t in tags)

    def set_tags(self, handoff_id: int, tags: builtins.list[str]) -> HandoffRecord:
        clean = _clean_tags(tags)
        with self._session.begin() as session:
            self._replace_tags(session, self._require(session, handoff_id), clean)
        return self.get(handoff_id)  # type: ignore[return-value]

    def add_note(self, handoff_id: int, author: str, text: str) -> HandoffRecord:
        text = text.strip()
        if not text or len(text) > MAX_NOTE_CHARS:
            raise InvalidRequest(f"a note has 1 to {MAX_NOTE_CHARS} characters")
        if self.redact:
            text = redact_text(text)
        with self._session.begin() as session:
            record = self._require(session, handoff_id)
            record.notes.append(HandoffNote(handoff_id=handoff_id, author=author, text=text))
        return self.get(handoff_id)  # type: ignore[return-value]

    def waiting_too_long(self, minutes: int, limit: int = QUEUE_LIMIT) -> builtins.list[HandoffRecord]:
        """The oldest ``limit`` queued handoffs older than ``minutes`` whose customer has not
        been told yet (the next round takes the rest)."""
        cutoff = utc_now() - dt.timedelta(minutes=minutes)
        query = (
            select(HandoffRecord)
            .where(
                HandoffRecord.status == "queued",
                HandoffRecord.created_at <= cutoff,
                HandoffRecord.wait_notified_at.is_(None),
            )
            .order_by(HandoffRecord.id)
            .limit(bounded(limit, QUEUE_LIMIT))
        )
        with self._session() as session:
            return list(session.scalars(query))

    def mark_wait_notified(self, handoff_id: int) -> None:
        with self._session.begin() as session:
            self._require(session, handoff_id).wait_notified_at = utc_now()

    # ------------------------------------------------------------------ tickets

    def create_ticket(
        self,
        conversation_id: str,
        *,
        contact: str,
        message: str,
        customer_id: str = "",
        handoff_id: int | None = None,
    ) -> Ticket:
        """Store the customer's message; the open handoff, if any, closes with outcome ticket.
        The contact details are kept as given even when redaction is on: they are the point."""
        if self.redact:
            message = redact_text(message)
        ticket = Ticket(
            conversation_id=conversation_id,
            handoff_id=handoff_id,
            customer_id=customer_id,
            contact=contact.strip()[:255],
            message=message.strip(),
        )
        with self._session.begin() as session:
            session.add(ticket)
            if handoff_id is not None:
                record = session.get(HandoffRecord, _key(handoff_id))
                if record is not None and record.status in OPEN_STATUSES:
                    record.status, record.outcome, record.closed_at = "closed", "ticket", utc_now()
        return ticket

    def tickets(self, status: str | None = "open", limit: int = TICKET_LIMIT) -> builtins.list[Ticket]:
        """The oldest ``limit`` (at most TICKET_LIMIT) tickets: the first to call back first."""
        query = select(Ticket).order_by(Ticket.id).limit(bounded(limit, TICKET_LIMIT))
        if status:
            query = query.where(Ticket.status == status)
        with self._session() as session:
            return list(session.scalars(query))

    def close_ticket(self, ticket_id: int, by: str) -> Ticket:
        with self._session.begin() as session:
            ticket = session.get(Ticket, _key(ticket_id))
            if ticket is None:
                raise TicketNotFound(ticket_id)
            ticket.status, ticket.closed_by = "done", by
        return ticket

    def dispose(self) -> None:
        self.engine.dispose()
