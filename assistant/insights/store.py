"""The analytics store: what Rasa's stream said, each conversation's label, and the dashboard.

Tables (SQLAlchemy; SQLite by default, PostgreSQL by URL):

- ``insight_events``: one row per counted broker event, unique by (source, source id), so an
  event read twice (a consumer restarted, an overlap re-read) is stored once;
- ``insight_cursors``: how far each source has been read, written in the same transaction as
  the events it covers;
- ``insight_conversations``: one row per conversation (a Rasa session of a sender) with its
  label, recomputed whenever new events arrive or a return window closes;
- ``insight_steps``: what each conversation reached (stages, form fields, tree nodes, articles,
  refusals, feedback), the rows the dashboard's tables count with plain SQL;
- ``insight_failed``: failed questions, mined by :mod:`assistant.insights.mining`.

Test traffic (a message's metadata ``traffic: test`` or ``simulated: true``, or a stack started
with ``ASSISTANT_TRAFFIC=test``) is labelled like any other and left out of every figure unless
asked for (``traffic=test``/``all``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from assistant.content import InsightsSettings
from assistant.db import as_utc, open_database, utc_now
from assistant.insights import events as ev
from assistant.insights import outcomes as oc

logger = logging.getLogger(__name__)

TRAFFIC = ("live", "test", "all")
MAX_RANGE_DAYS = 400
DRILL_LIMIT = 500
MAX_EVENTS_SHOWN = 2000  # of one conversation's timeline
DRILL_KEYS = 20_000  # conversations matched by steps before the drill-through uses subqueries


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "insight_events"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_insight_event_source"),
        Index("ix_insight_events_conv_id", "conversation", "id"),
        Index("ix_insight_events_kind_name", "kind", "name"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    conversation: Mapped[str] = mapped_column(String(300))
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CursorRow(Base):
    __tablename__ = "insight_cursors"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ConversationRow(Base):
    __tablename__ = "insight_conversations"
    __table_args__ = (
        Index("ix_insight_conv_started", "test", "started"),
        # covering the dashboard's counts, so that 100,000 conversations are read from the index
        Index("ix_insight_conv_figures", "test", "started", "label", "asked", "durable", "channel"),
        Index("ix_insight_conv_customer", "customer", "started"),
    )
    conversation: Mapped[str] = mapped_column(String(300), primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    session: Mapped[int] = mapped_column(Integer, default=1)
    customer: Mapped[str] = mapped_column(String(64), default="")  # keyed hash, or the sender
    started: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(String(32), default="")
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str] = mapped_column(String(24), default=oc.NO_REQUEST, index=True)
    where: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(64), default="")
    asked: Mapped[bool] = mapped_column(Boolean, default=False)
    durable: Mapped[bool] = mapped_column(Boolean, default=False)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    handoff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dirty: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    labelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    settles_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class StepRow(Base):
    """Something a conversation reached: kind stage/form/tree/article/refusal/feedback/handoff."""

    __tablename__ = "insight_steps"
    __table_args__ = (
        Index("ix_insight_steps_kind", "kind", "test", "started"),
        Index("ix_insight_steps_figures", "kind", "test", "started", "name", "sub", "left", "channel"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation: Mapped[str] = mapped_column(String(300), index=True)
    started: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(32), default="")
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    sub: Mapped[str] = mapped_column(String(128), default="")
    left: Mapped[bool] = mapped_column(Boolean, default=False)


class SeenRow(Base):
    """What must happen once (a proactive offer shown), written at once by the action that did it:
    the broker's events reach the store a moment later, too late for a second chat opened now."""

    __tablename__ = "insight_seen"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class FailedRow(Base):
    __tablename__ = "insight_failed"
    __table_args__ = (UniqueConstraint("conversation", "question", "how", name="uq_insight_failed"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation: Mapped[str] = mapped_column(String(300), index=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    question: Mapped[str] = mapped_column(String(1000))
    how: Mapped[str] = mapped_column(String(24))
    article_id: Mapped[str] = mapped_column(String(128), default="")
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    # open: waiting to be mined; accepted: written into an article; rejected: an editor said no
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    suggestion_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


@dataclass(frozen=True)
class Range:
    """Which conversations a figure counts: started in [since, until] (whole UTC days)."""

    since: dt.date
    until: dt.date
    traffic: str = "live"
    channel: str = ""

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError("until is before since")
        if (self.until - self.since).days > MAX_RANGE_DAYS:
            raise ValueError(f"a range is at most {MAX_RANGE_DAYS} days")
        if self.traffic not in TRAFFIC:
            raise ValueError(f"traffic is one of {', '.join(TRAFFIC)}")

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.since, dt.time(), dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), dt.UTC)

    @classmethod
    def last_days(cls, days: int = 30, today: dt.date | None = None, **kw: Any) -> Range:
        today = today or utc_now().date()
        return cls(today - dt.timedelta(days=days - 1), today, **kw)

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "traffic": self.traffic}


def customer_key(customer_id: str, secret: str) -> str:
    """A signed-in customer as the analytics know them: a keyed hash, never the id itself."""
    return hashlib.blake2b(customer_id.encode(), key=secret.encode()[:64], digest_size=12).hexdigest()


class InsightsStore:
    """Events in, labels and figures out. Thread-safe; every call is synchronous (callers on an
    event loop use ``asyncio.to_thread``)."""

    def __init__(
        self,
        url: str,
        *,
        settings: InsightsSettings | None = None,
        handoffs: Any = None,
        traffic: str = "live",
        redact: bool = False,
        clock: Callable[[], dt.datetime] = utc_now,
    ):
        self.engine, self._session = open_database(url, Base.metadata)
        for table in Base.metadata.sorted_tables:  # indexes added since a store was first made
            for index in table.indexes:
                try:
                    index.create(self.engine, checkfirst=True)
                except Exception:  # another process made it just now
                    logger.debug("index %s exists", index.name)
        self.settings = settings or InsightsSettings()
        self.handoffs = handoffs  # assistant.handoff.store.HandoffStore: handoffs and tickets
        self.traffic = traffic  # "test": everything this store takes in is test traffic
        self.redact = redact  # what customers typed stored without card numbers, contacts, amounts
        self.clock = clock
        self._lock = threading.Lock()  # one ingest/label pass at a time in this process

    def dispose(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ intake

    def position(self, source: str) -> int:
        with self._session() as s:
            row = s.get(CursorRow, source)
            return int(row.position) if row else 0

    def ingest(
        self, source: str, events: Sequence[tuple[int, dict[str, Any]]], *, cursor: str | None = None
    ) -> int:
        """Store ``events`` (source id, Rasa event) once each; with ``cursor``, move that cursor to
        the highest id in the same transaction. Returns how many were new."""
        if not events:
            return 0
        with self._lock, self._session.begin() as s:
            ids = [str(i) for i, _ in events]
            known = set(
                s.scalars(
                    select(EventRow.source_id).where(EventRow.source == source, EventRow.source_id.in_(ids))
                )
            )
            sessions: dict[str, tuple[str, int, bool]] = {}
            new = 0
            touched: dict[str, ConversationRow] = {}
            for source_id, event in events:
                if str(source_id) in known:
                    continue
                known.add(str(source_id))
                try:
                    record = ev.read_event(event)
                except Exception:  # one malformed event never blocks its batch
                    logger.warning("broker event %s of %s unreadable; skipped", source_id, source)
                    continue
                if record is None:
                    continue
                if self.redact and record.text:
                    from assistant.handoff.redact import redact_account_text

                    record.text = redact_account_text(record.text)
                conversation = self._conversation_for(s, record, sessions, touched)
                if self.traffic == "test" or record.detail.get("test"):
                    conversation.test = True
                detail = dict(record.detail)
                s.add(
                    EventRow(
                        source=source,
                        source_id=str(source_id),
                        sender_id=record.sender_id,
                        conversation=conversation.conversation,
                        ts=record.ts,
                        kind=record.kind,
                        name=record.name,
                        text=record.text,
                        detail=detail,
                    )
                )
                new += 1
                conversation.ended = max(as_utc(conversation.ended), record.ts)
                if record.kind == ev.USER and not conversation.channel:
                    conversation.channel = str(record.detail.get("channel") or "")
                if record.kind == ev.CUSTOMER and record.name:
                    conversation.customer = record.name
                conversation.dirty = True
            if cursor is not None:
                top = max(int(i) for i, _ in events)
                row = s.get(CursorRow, cursor)
                if row is None:
                    s.add(CursorRow(source=cursor, position=top, updated_at=utc_now()))
                elif top > row.position:
                    row.position, row.updated_at = top, utc_now()
            return new

    def _conversation_for(
        self,
        s: Session,
        record: ev.Record,
        sessions: dict[str, tuple[str, int, bool]],
        touched: dict[str, ConversationRow],
    ) -> ConversationRow:
        """The conversation a record belongs to: the sender's latest session, or a new one when
        Rasa started a session after some turns."""
        sender = record.sender_id
        if sender not in sessions:
            row = s.scalars(
                select(ConversationRow)
                .where(ConversationRow.sender_id == sender)
                .order_by(ConversationRow.session.desc())
                .limit(1)
            ).first()
            if row is not None:
                touched[row.conversation] = row
                sessions[sender] = (row.conversation, row.session, row.turns > 0 or self._has_turns(s, row))
        current = sessions.get(sender)
        if current is None or (record.kind == ev.SESSION and current[2]):
            number = current[1] + 1 if current else 1
            key = f"{sender}#{number}"
            row = ConversationRow(
                conversation=key,
                sender_id=sender,
                session=number,
                customer="",
                started=record.ts,
                ended=record.ts,
                test=False,
                dirty=True,
                topics=[],
                turns=0,
            )
            s.add(row)
            touched[key] = row
            sessions[sender] = (key, number, False)
            return row
        key, number, turns = current
        if record.kind == ev.USER and not turns:
            sessions[sender] = (key, number, True)
        return touched[key]

    @staticmethod
    def _has_turns(s: Session, row: ConversationRow) -> bool:
        found = s.scalar(
            select(EventRow.id)
            .where(EventRow.conversation == row.conversation, EventRow.kind == ev.USER)
            .limit(1)
        )
        return found is not None

    def add_direct(self, sender_id: str, kind: str, key: str, **detail: Any) -> bool:
        """An event the web app records itself when Rasa could not take it (feedback while
        Rasa is down): stored once by ``key``."""
        event = ev.enrichment(kind, **detail)
        event.update(sender_id=sender_id, timestamp=self.clock().timestamp())
        return self.ingest("web", [(int(hashlib.sha1(key.encode()).hexdigest()[:15], 16), event)]) > 0

    # ------------------------------------------------------------------ labelling

    def label_pending(self, limit: int = 500) -> int:
        """Label the conversations with new events, and those whose return window has closed."""
        now = self.clock()
        done = 0
        with self._lock:
            with self._session() as s:
                keys = list(
                    s.scalars(select(ConversationRow.conversation).where(ConversationRow.dirty).limit(limit))
                )
                window = dt.timedelta(days=self.settings.durable_days)
                if len(keys) < limit:
                    keys += list(
                        s.scalars(
                            select(ConversationRow.conversation)
                            .where(ConversationRow.provisional, ConversationRow.settles_at <= now)
                            .limit(limit - len(keys))
                        )
                    )
            for key in keys:
                try:
                    with self._session.begin() as s:
                        row = s.get(ConversationRow, key)
                        if row is not None:
                            self._label(s, row, now, window)
                            done += 1
                except Exception:  # one conversation that cannot be labelled never blocks the rest
                    logger.exception(
                        "could not label conversation %s; skipped until its next event", key[:12]
                    )
                    with self._session.begin() as s:
                        s.execute(
                            update(ConversationRow)
                            .where(ConversationRow.conversation == key)
                            .values(dirty=False, labelled_at=now)
                        )
        return done

    def _label(self, s: Session, row: ConversationRow, now: dt.datetime, window: dt.timedelta) -> None:
        rows = s.scalars(
            select(EventRow).where(EventRow.conversation == row.conversation).order_by(EventRow.id)
        )
        records = [ev.Record(r.sender_id, as_utc(r.ts), r.kind, r.name, r.text, r.detail or {}) for r in rows]
        started = as_utc(row.started)
        following = s.scalar(
            select(ConversationRow.started)
            .where(ConversationRow.sender_id == row.sender_id, ConversationRow.session > row.session)
            .order_by(ConversationRow.session)
            .limit(1)
        )
        until = as_utc(following) if following is not None else None
        handoffs, tickets = self._handoffs(row.sender_id, started, until)
        customer = row.customer or row.sender_id
        later = s.execute(
            select(ConversationRow.started, ConversationRow.topics).where(
                ConversationRow.conversation != row.conversation,
                ConversationRow.started > row.ended,
                ConversationRow.started <= as_utc(row.ended) + window,
                (ConversationRow.customer == customer) | (ConversationRow.sender_id == row.sender_id),
            )
        ).all()
        returns = [oc.Return(as_utc(t), frozenset(topics or [])) for t, topics in later]
        out = oc.label(
            records, handoffs=handoffs, tickets=tickets, returns=returns, settings=self.settings, now=now
        )
        old_topics = set(row.topics or [])
        first = row.labelled_at is None
        row.label, row.where, row.reason = out.label, out.where[:200], out.reason[:64]
        row.asked, row.durable, row.provisional = out.asked, out.durable, out.provisional
        row.topics, row.turns = sorted(out.topics), out.turns
        row.channel = row.channel or out.channel
        row.test = row.test or out.test or self.traffic == "test"
        row.customer = row.customer or out.customer
        row.handoff_id = handoffs[0].id if handoffs else None
        row.dirty, row.labelled_at = False, now
        ended = as_utc(row.ended)
        # when a return can no longer change the label (assumed) or the durable flag
        row.settles_at = ended + (
            dt.timedelta(hours=self.settings.assumed_hours)
            if out.provisional and now - ended < dt.timedelta(hours=self.settings.assumed_hours)
            else window
        )
        self._steps(s, row, records, out, handoffs)
        self._failed(s, row, out)
        if first or old_topics != set(out.topics):
            # earlier conversations of this customer may have been answered for good, or not
            s.execute(
                update(ConversationRow)
                .where(
                    ConversationRow.conversation != row.conversation,
                    ConversationRow.ended < row.started,
                    ConversationRow.ended >= started - window,
                    (ConversationRow.customer == (row.customer or row.sender_id))
                    | (ConversationRow.sender_id == row.sender_id),
                )
                .values(dirty=True)
            )

    def _handoffs(
        self, sender_id: str, started: dt.datetime, until: dt.datetime | None
    ) -> tuple[list[oc.Handoff], int]:
        if self.handoffs is None:
            return [], 0
        found, tickets = self.handoffs.for_conversation(sender_id, started, until)
        return [oc.Handoff(**h) for h in found], tickets

    def _steps(
        self,
        s: Session,
        row: ConversationRow,
        records: Sequence[ev.Record],
        out: oc.Outcome,
        handoffs: Sequence[oc.Handoff],
    ) -> None:
        s.execute(delete(StepRow).where(StepRow.conversation == row.conversation))
        base = {
            "conversation": row.conversation,
            "started": as_utc(row.started),
            "test": row.test,
            "channel": row.channel,
        }
        seen: dict[tuple[str, str, str], StepRow] = {}

        def step(
            kind: str, name: str, sub: str = "", ts: dt.datetime | None = None, left: bool = False
        ) -> None:
            key = (kind, name[:128], "" if kind == "feedback" else sub[:128])
            if key in seen:
                seen[key].left = seen[key].left or left
                if kind == "feedback":  # the latest rating of an article counts
                    seen[key].sub, seen[key].ts = sub[:128], ts or seen[key].ts
                return
            seen[key] = StepRow(
                **base, ts=ts or as_utc(row.started), kind=kind, name=key[1], sub=sub[:128], left=left
            )
            s.add(seen[key])

        for stage in out.stages:
            step("stage", stage)
        form = tree = ""
        for r in ev.without_carried_over(list(records)):
            if r.kind == ev.FORM and r.name:
                form = r.name
                if r.name != ev.TREE_FORM:
                    step("form", form, "", r.ts)
            elif r.kind == ev.FIELD and r.name and form and form != ev.TREE_FORM:
                step("form", form, r.name, r.ts)
            elif r.kind == ev.TREE:
                tree = r.name
                step("tree", tree, "", r.ts)
            elif r.kind == ev.NODE and tree:
                step("tree", tree, r.name, r.ts)
            elif r.kind == ev.ARTICLE_SHOWN and r.name:
                step("article", r.name, "", r.ts)
            elif r.kind == ev.TRANSACTION and not r.detail.get("ok"):
                step(
                    "refusal", str(r.detail.get("form") or form), str(r.detail.get("code") or "refused"), r.ts
                )
            elif r.kind == ev.FEEDBACK and r.name:
                step("feedback", r.name, "up" if r.detail.get("helpful") else "down", r.ts)
        if out.dropoff:
            what, _, path = out.dropoff.partition(" ")
            name, _, sub = path.partition("/")
            step(what, name, sub, as_utc(row.ended), left=True)
            if sub:  # the form or tree itself was left too
                step(what, name, "", as_utc(row.ended), left=True)
        for h in handoffs[:1]:
            step("handoff", h.reason or "unknown", h.stage or "", h.created_at)

    def _failed(self, s: Session, row: ConversationRow, out: oc.Outcome) -> None:
        existing = {
            (f.question, f.how): f
            for f in s.scalars(select(FailedRow).where(FailedRow.conversation == row.conversation))
        }
        wanted = {(f.question[:1000], f.how): f for f in out.failed}
        for key, old in existing.items():
            if key not in wanted and old.status == "open" and old.suggestion_id is None:
                s.delete(old)
            else:
                old.test = row.test  # a conversation found to be test traffic later
        for key, f in wanted.items():
            if key not in existing:
                s.add(
                    FailedRow(
                        conversation=row.conversation,
                        ts=f.ts,
                        question=key[0],
                        how=f.how,
                        article_id=f.article_id,
                        test=row.test,
                    )
                )

    # ------------------------------------------------------------------ figures

    @staticmethod
    def _in_range(table: Any, r: Range) -> Any:
        """The WHERE clause of the rows (conversations, or their steps) a range counts."""
        cond = [table.started >= r.start, table.started < r.end]
        if r.traffic != "all":
            cond.append(table.test.is_(r.traffic == "test"))
        if r.channel:
            cond.append(table.channel == r.channel)
        return and_(*cond)

    def _conversations(self, r: Range) -> Any:
        return self._in_range(ConversationRow, r)

    def _steps_in(self, r: Range) -> Any:
        return self._in_range(StepRow, r)

    def summary(self, r: Range) -> dict[str, Any]:
        with self._session() as s:
            rows = s.execute(
                select(
                    ConversationRow.label,
                    func.count(),
                    func.sum(case((ConversationRow.asked, 1), else_=0)),
                    func.sum(case((ConversationRow.durable, 1), else_=0)),
                )
                .where(self._conversations(r))
                .group_by(ConversationRow.label)
            ).all()
        counts = {label: 0 for label in oc.LABELS}
        asked = durable = 0
        for label, n, asked_n, durable_n in rows:
            counts[label] = counts.get(label, 0) + int(n)
            asked += int(asked_n or 0)
            durable += int(durable_n or 0)
        total = sum(counts.values())
        resolved = counts[oc.RESOLVED_CONFIRMED] + counts[oc.RESOLVED_ASSUMED]
        return {
            **r.to_dict(),
            "conversations": total,
            "asked": asked,
            **counts,
            "durable": durable,
            "containment_rate": round(resolved / asked, 4) if asked else 0.0,
            "confirmed_rate": round(counts[oc.RESOLVED_CONFIRMED] / asked, 4) if asked else 0.0,
        }

    def _day(self, column: Any) -> Any:
        """The UTC day of a timestamp, in SQL (PostgreSQL would use the session's time zone)."""
        if self.engine.dialect.name == "postgresql":
            return func.date(func.timezone("UTC", column))
        if self.engine.dialect.name == "sqlite":  # stored as "YYYY-MM-DD HH:MM:SS..." in UTC
            return func.substr(column, 1, 10)
        return func.date(column)

    def timeseries(self, r: Range) -> list[dict[str, Any]]:
        day = self._day(ConversationRow.started)
        with self._session() as s:
            rows = s.execute(
                select(
                    day,
                    ConversationRow.label,
                    func.count(),
                    func.sum(case((ConversationRow.asked, 1), else_=0)),
                )
                .where(self._conversations(r))
                .group_by(day, ConversationRow.label)
            ).all()
        days: dict[str, dict[str, Any]] = {}
        current = r.since
        while current <= r.until:
            days[current.isoformat()] = {
                "day": current.isoformat(),
                "conversations": 0,
                "asked": 0,
                **{label: 0 for label in oc.LABELS},
            }
            current += dt.timedelta(days=1)
        for d, label, n, asked in rows:
            item = days.get(str(d)[:10])
            if item is None:
                continue
            item[label] = item.get(label, 0) + int(n)
            item["conversations"] += int(n)
            item["asked"] += int(asked or 0)
        for item in days.values():
            resolved = item[oc.RESOLVED_CONFIRMED] + item[oc.RESOLVED_ASSUMED]
            item["containment_rate"] = round(resolved / item["asked"], 4) if item["asked"] else None
        return list(days.values())

    def handoffs_by(self, r: Range) -> dict[str, list[dict[str, Any]]]:
        with self._session() as s:
            by_reason = s.execute(
                select(StepRow.name, func.count())
                .where(self._steps_in(r), StepRow.kind == "handoff")
                .group_by(StepRow.name)
                .order_by(func.count().desc())
            ).all()
            by_stage = s.execute(
                select(StepRow.sub, func.count())
                .where(self._steps_in(r), StepRow.kind == "handoff")
                .group_by(StepRow.sub)
                .order_by(func.count().desc())
            ).all()
        return {
            "by_reason": [{"reason": k or "unknown", "n": int(n)} for k, n in by_reason],
            "by_stage": [{"stage": k or "unknown", "n": int(n)} for k, n in by_stage],
        }

    def funnel(self, r: Range) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = dict(
                s.execute(
                    select(StepRow.name, func.count())
                    .where(self._steps_in(r), StepRow.kind == "stage")
                    .group_by(StepRow.name)
                ).all()
            )
        return [{"stage": stage, "conversations": int(rows.get(stage, 0))} for stage in oc.STAGES]

    def dropoff(self, r: Range) -> dict[str, list[dict[str, Any]]]:
        left = func.sum(case((StepRow.left, 1), else_=0))
        out: dict[str, list[dict[str, Any]]] = {}
        with self._session() as s:
            for kind, key, sub_key in (("tree", "tree", "node"), ("form", "form", "field")):
                rows = s.execute(
                    select(StepRow.name, StepRow.sub, func.count(), left)
                    .where(self._steps_in(r), StepRow.kind == kind)
                    .group_by(StepRow.name, StepRow.sub)
                    .order_by(StepRow.name, left.desc())
                ).all()
                out[kind + "s"] = [
                    {key: name, sub_key: sub, "reached": int(n), "left": int(lft or 0)}
                    for name, sub, n, lft in rows
                ]
        return out

    def refusals(self, r: Range) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.execute(
                select(StepRow.name, StepRow.sub, func.count())
                .where(self._steps_in(r), StepRow.kind == "refusal")
                .group_by(StepRow.name, StepRow.sub)
                .order_by(func.count().desc())
            ).all()
        return [{"operation": name, "code": code, "n": int(n)} for name, code, n in rows]

    def failed_questions(self, r: Range, limit: int = 100) -> list[dict[str, Any]]:
        cond = [FailedRow.ts >= r.start, FailedRow.ts < r.end]
        if r.traffic != "all":
            cond.append(FailedRow.test.is_(r.traffic == "test"))
        text = func.lower(FailedRow.question)
        with self._session() as s:
            rows = s.execute(
                select(text, func.count(), func.max(FailedRow.ts), func.min(FailedRow.how))
                .where(*cond)
                .group_by(text)
                .order_by(func.count().desc(), func.max(FailedRow.ts).desc())
                .limit(limit)
            ).all()
        return [
            {"question": q, "n": int(n), "last_seen": as_utc(last).isoformat(), "how": how}
            for q, n, last, how in rows
        ]

    def feedback(self, r: Range, titles: dict[str, str] | None = None) -> list[dict[str, Any]]:
        day = self._day(StepRow.ts)
        with self._session() as s:
            rows = s.execute(
                select(StepRow.name, day, StepRow.sub, func.count())
                .where(self._steps_in(r), StepRow.kind == "feedback")
                .group_by(StepRow.name, day, StepRow.sub)
            ).all()
        per: dict[str, dict[str, Any]] = {}
        for article, d, sub, n in rows:
            item = per.setdefault(
                article,
                {
                    "article_id": article,
                    "title": (titles or {}).get(article, article),
                    "up": 0,
                    "down": 0,
                    "trend": {},
                },
            )
            item[sub] += int(n)
            point = item["trend"].setdefault(str(d)[:10], {"day": str(d)[:10], "up": 0, "down": 0})
            point[sub] += int(n)
        out = sorted(per.values(), key=lambda i: (-(i["up"] + i["down"]), i["article_id"]))
        for item in out:
            item["trend"] = sorted(item["trend"].values(), key=lambda p: p["day"])
        return out

    def articles(
        self, r: Range, titles: dict[str, str] | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.execute(
                select(StepRow.name, func.count())
                .where(self._steps_in(r), StepRow.kind == "article")
                .group_by(StepRow.name)
                .order_by(func.count().desc(), StepRow.name)
                .limit(limit)
            ).all()
        return [
            {"article_id": a, "title": (titles or {}).get(a, a), "conversations": int(n)} for a, n in rows
        ]

    def top_articles(self, *, days: int = 30, limit: int = 5, min_events: int = 20) -> list[str]:
        """The most shown articles (live traffic only), the figures that order the greeting's top
        tasks; empty while fewer than ``min_events`` conversations were shown one."""
        rows = self.articles(Range.last_days(days), limit=1000)
        if sum(row["conversations"] for row in rows) < min_events:
            return []
        return [row["article_id"] for row in rows[:limit]]

    def channels(self, r: Range) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.execute(
                select(
                    ConversationRow.channel,
                    ConversationRow.label,
                    func.count(),
                    func.sum(case((ConversationRow.asked, 1), else_=0)),
                )
                .where(self._conversations(r))
                .group_by(ConversationRow.channel, ConversationRow.label)
            ).all()
        per: dict[str, Counter[str]] = defaultdict(Counter)
        for channel, label, n, asked in rows:
            per[channel or "unknown"][label] += int(n)
            per[channel or "unknown"]["asked"] += int(asked or 0)
        out = []
        for channel, c in sorted(per.items()):
            resolved = c[oc.RESOLVED_CONFIRMED] + c[oc.RESOLVED_ASSUMED]
            out.append(
                {
                    "channel": channel,
                    "conversations": sum(c[label] for label in oc.LABELS),
                    "resolved": resolved,
                    "escalated": c[oc.ESCALATED] + c[oc.TICKET],
                    "abandoned": c[oc.ABANDONED],
                    "containment_rate": round(resolved / c["asked"], 4) if c["asked"] else 0.0,
                }
            )
        return out

    def conversations(self, r: Range, filters: dict[str, str], limit: int = 100) -> dict[str, Any]:
        """The conversations behind a figure (the dashboard's drill-through)."""
        cond: list[Any] = []  # besides the range (the steps carry their conversation's range)
        step_filters = {
            "stage": ("stage", "name"),
            "article": ("article", "name"),
            "tree": ("tree", "name"),
            "form": ("form", "name"),
            "code": ("refusal", "sub"),
        }
        subqueries: list[Any] = []  # the conversations that reached a step
        if filters.get("outcome"):
            if filters["outcome"] == "resolved":
                cond.append(ConversationRow.label.in_(oc.RESOLVED))
            else:
                cond.append(ConversationRow.label == filters["outcome"])
        if filters.get("reason"):
            cond.append(ConversationRow.reason == filters["reason"])
        if filters.get("durable") in ("true", "1"):
            cond.append(ConversationRow.durable.is_(True))
        for key, (kind, column) in step_filters.items():
            value = filters.get(key)
            if not value:
                continue
            sub = select(StepRow.conversation).where(
                self._steps_in(r), StepRow.kind == kind, getattr(StepRow, column) == value
            )
            if key == "tree" and filters.get("node"):
                sub = sub.where(StepRow.sub == filters["node"])
            if key == "form" and filters.get("field"):
                sub = sub.where(StepRow.sub == filters["field"])
            if filters.get("left") in ("true", "1"):
                sub = sub.where(StepRow.left.is_(True))
            if key == "article" and filters.get("feedback") in ("up", "down"):
                sub = select(StepRow.conversation).where(
                    self._steps_in(r),
                    StepRow.kind == "feedback",
                    StepRow.name == value,
                    StepRow.sub == filters["feedback"],
                )
            subqueries.append(sub)
        if filters.get("handoff_stage"):
            subqueries.append(
                select(StepRow.conversation).where(
                    self._steps_in(r), StepRow.kind == "handoff", StepRow.sub == filters["handoff_stage"]
                )
            )
        if filters.get("question"):
            cond.append(
                ConversationRow.conversation.in_(
                    select(FailedRow.conversation).where(
                        func.lower(FailedRow.question) == filters["question"].lower()
                    )
                )
            )
        limit = max(1, min(limit, DRILL_LIMIT))
        with self._session() as s:
            # the steps first (their index is narrow), then the conversations by key: far quicker
            # than a subquery tested against every conversation of the range
            keys: set[str] | None = None
            for sub in subqueries:
                found = set(s.scalars(sub.limit(DRILL_KEYS + 1)))
                keys = found if keys is None else keys & found
                if len(found) > DRILL_KEYS:
                    keys = None
                    cond += [ConversationRow.conversation.in_(q) for q in subqueries]
                    break
            if keys is not None:  # looked up by primary key, a chunk at a time
                found_rows: list[ConversationRow] = []
                ordered = sorted(keys)
                for i in range(0, len(ordered), 900):
                    chunk = ordered[i : i + 900]
                    found_rows += s.scalars(
                        select(ConversationRow).where(ConversationRow.conversation.in_(chunk), *cond)
                    ).all()  # the steps were already of the range: no range here, or SQLite scans it
                found_rows.sort(key=lambda c: as_utc(c.started), reverse=True)
                return {
                    "rows": [self._conversation_dict(c) for c in found_rows[:limit]],
                    "total": len(found_rows),
                }
            cond.append(self._conversations(r))
            total = int(s.scalar(select(func.count()).select_from(ConversationRow).where(*cond)) or 0)
            rows = s.scalars(
                select(ConversationRow).where(*cond).order_by(ConversationRow.started.desc()).limit(limit)
            ).all()
        return {"rows": [self._conversation_dict(c) for c in rows], "total": total}

    @staticmethod
    def _conversation_dict(c: ConversationRow) -> dict[str, Any]:
        return {
            "conversation_id": c.conversation,
            "sender_id": c.sender_id,
            "started": as_utc(c.started).isoformat(),
            "ended": as_utc(c.ended).isoformat(),
            "outcome": c.label,
            "where": c.where,
            "reason": c.reason,
            "channel": c.channel,
            "topics": list(c.topics or []),
            "durable": c.durable,
            "provisional": c.provisional,
            "turns": c.turns,
            "test": c.test,
            "handoff_id": c.handoff_id,
        }

    def conversation(self, key: str) -> dict[str, Any] | None:
        """One conversation by its key (``sender#session``), or a sender's latest one."""
        with self._session() as s:
            row = s.get(ConversationRow, key)
            if row is None and "#" not in key:
                row = s.scalars(
                    select(ConversationRow)
                    .where(ConversationRow.sender_id == key)
                    .order_by(ConversationRow.session.desc())
                    .limit(1)
                ).first()
            if row is None:
                return None
            events = s.scalars(
                select(EventRow)
                .where(EventRow.conversation == row.conversation)
                .order_by(EventRow.id)
                .limit(MAX_EVENTS_SHOWN)
            ).all()
        out = self._conversation_dict(row)
        out["events"] = [
            ev.Record(e.sender_id, as_utc(e.ts), e.kind, e.name, e.text, e.detail or {}).to_dict()
            for e in events
        ]
        return out

    def label_of(self, key: str) -> str | None:
        with self._session() as s:
            row = s.get(ConversationRow, key)
            return row.label if row else None

    # ------------------------------------------------------------------ for the actions and widget

    def seen(self, kind: str, subjects: list[str]) -> set[str]:
        """Which of ``subjects`` already have an enrichment of ``kind`` (an offer shown once),
        in the stream or marked by :meth:`mark_seen`."""
        if not subjects:
            return set()
        with self._session() as s:
            found = set(
                s.scalars(select(EventRow.name).where(EventRow.kind == kind, EventRow.name.in_(subjects)))
            )
            marked = s.scalars(
                select(SeenRow.subject).where(SeenRow.kind == kind, SeenRow.subject.in_(subjects))
            )
            return found | set(marked)

    def mark_seen(self, kind: str, subject: str) -> None:
        with self._session.begin() as s:
            if s.get(SeenRow, (kind, subject[:128])) is None:
                s.add(SeenRow(kind=kind, subject=subject[:128], ts=utc_now()))

    def feedback_given(self, sender_id: str) -> dict[str, bool]:
        """The latest thumbs per article in a sender's conversations (the widget's history)."""
        with self._session() as s:
            rows = s.execute(
                select(EventRow.name, EventRow.detail)
                .where(EventRow.sender_id == sender_id, EventRow.kind == ev.FEEDBACK)
                .order_by(EventRow.id)
            ).all()
        return {name: bool((detail or {}).get("helpful")) for name, detail in rows if name}

    def events_of(self, sender_id: str) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(EventRow).where(EventRow.sender_id == sender_id).order_by(EventRow.id)
            ).all()
        return [
            ev.Record(e.sender_id, as_utc(e.ts), e.kind, e.name, e.text, e.detail or {}).to_dict()
            for e in rows
        ]

    # ------------------------------------------------------------------ failed questions

    def open_failed(self, limit: int = 10_000, *, include_test: bool = False) -> list[FailedRow]:
        with self._session() as s:
            q = select(FailedRow).where(FailedRow.status == "open")
            if not include_test:
                q = q.where(FailedRow.test.is_(False))
            return list(s.scalars(q.order_by(FailedRow.id.desc()).limit(limit)).all())

    def failed_count(self) -> int:
        with self._session() as s:
            return int(s.scalar(select(func.count()).select_from(FailedRow)) or 0)


# Columns of each table route's CSV (the dashboard's tables)
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "timeseries": ("day", "conversations", "asked", *oc.LABELS, "containment_rate"),
    "by_reason": ("reason", "n"),
    "by_stage": ("stage", "n"),
    "funnel": ("stage", "conversations"),
    "trees": ("tree", "node", "reached", "left"),
    "forms": ("form", "field", "reached", "left"),
    "refusals": ("operation", "code", "n"),
    "failed_questions": ("question", "n", "last_seen", "how"),
    "feedback": ("article_id", "title", "up", "down"),
    "articles": ("article_id", "title", "conversations"),
    "channels": ("channel", "conversations", "resolved", "escalated", "abandoned", "containment_rate"),
    "conversations": (
        "conversation_id",
        "started",
        "ended",
        "outcome",
        "where",
        "reason",
        "channel",
        "turns",
    ),
    "summary": ("since", "until", "conversations", "asked", *oc.LABELS, "durable", "containment_rate"),
}
