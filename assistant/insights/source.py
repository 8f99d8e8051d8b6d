"""Reading Rasa's event broker into the analytics store, exactly once per event.

Rasa's SQL event broker (``event_broker: type: SQL`` in endpoints.yml, here through
``rasa_addons.broker.SharedSQLEventBroker``) appends every tracker event to a table ``events``
(``id``, ``sender_id``, ``data`` as JSON). :class:`SQLBrokerSource` reads it by id;
:class:`Consumer` stores each batch and moves its cursor in one transaction, so a consumer that
dies between the two re-reads a batch that is then skipped event by event (unique source ids).

On PostgreSQL ids can commit out of order (two Rasa processes inserting at once), so the source
re-reads an ``overlap`` of ids below the cursor; the store ignores the ones it already has.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from assistant.insights.store import InsightsStore

logger = logging.getLogger(__name__)


class EventSource(Protocol):
    """Where broker events come from: (id, event) pairs in id order."""

    name: str

    def read(self, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]: ...


_metadata = MetaData()
BROKER_EVENTS = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)


class SQLBrokerSource:
    """Rasa's SQL event broker table, read-only."""

    def __init__(self, url: str, *, overlap: int | None = None, name: str = "rasa-sql"):
        self.url = url
        self.name = name
        self.engine = create_engine(url, future=True)
        self.overlap = overlap if overlap is not None else (0 if url.startswith("sqlite") else 200)
        self._warned = float("-inf")

    def read(self, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        start = max(0, after - self.overlap)
        query = select(BROKER_EVENTS.c.id, BROKER_EVENTS.c.data).where(BROKER_EVENTS.c.id > start)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    query.order_by(BROKER_EVENTS.c.id).limit(limit + self.overlap)
                ).all()
        except (OperationalError, ProgrammingError) as exc:  # no table yet (Rasa not started), locked
            now = time.monotonic()
            if now - self._warned > 300:  # say so, but not on every poll
                self._warned = now
                logger.warning("the event broker's table is not readable (yet?): %s", str(exc)[:200])
            return []
        out: list[tuple[int, dict[str, Any]]] = []
        for event_id, data in rows:
            try:
                event = json.loads(data or "{}")
            except ValueError:
                logger.warning("broker event %s is not JSON; skipped", event_id)
                event = {}
            out.append((int(event_id), event if isinstance(event, dict) else {}))
        return out

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass
class PollReport:
    read: int = 0
    new: int = 0
    labelled: int = 0
    seconds: float = 0.0


class Consumer:
    """Moves events from one source into the store and labels what changed."""

    def __init__(self, source: EventSource, store: InsightsStore, *, batch: int = 1000):
        self.source = source
        self.store = store
        self.batch = batch
        self.on_poll: Callable[[PollReport], None] | None = None

    @property
    def cursor(self) -> str:
        return f"cursor:{self.source.name}"

    def poll(self) -> PollReport:
        started = time.perf_counter()
        report = PollReport()
        while True:
            after = self.store.position(self.cursor)
            events = self.source.read(after, self.batch)
            fresh = [(i, e) for i, e in events if i > after]
            report.read += len(fresh)
            report.new += self.store.ingest(self.source.name, events, cursor=self.cursor)
            if len(fresh) < self.batch:
                break
        report.labelled = self.store.label_pending()
        report.seconds = round(time.perf_counter() - started, 4)
        if self.on_poll is not None:
            self.on_poll(report)
        return report

    def run(self, stopping: threading.Event, every: float = 1.0) -> None:
        """Poll until ``stopping`` is set; one failed poll is logged and retried."""
        while not stopping.is_set():
            try:
                self.poll()
            except Exception:
                logger.exception("reading the event broker failed; retrying")
            stopping.wait(every)
