"""Reading Rasa's event broker into the analytics store, exactly once per event.

Rasa's SQL event broker (``event_broker: type: SQL`` in endpoints.yml, here through
``rasa_addons.broker.SharedSQLEventBroker``) appends every tracker event to a table ``events``
(``id``, ``sender_id``, ``data`` as JSON). :class:`SQLBrokerSource` reads it by id;
:class:`Consumer` stores each batch and moves its cursor in one transaction, so a consumer that
dies between the two re-reads a batch that is then skipped event by event (unique source ids).

On PostgreSQL ids can commit out of order (two Rasa processes inserting at once), so the source
re-reads an ``overlap`` of ids below the cursor; the store ignores the ones it already has.

In the production profile Rasa publishes to RabbitMQ instead (Rasa's Pika broker: a fanout
exchange with our durable queue bound). :class:`QueueConsumer` takes a batch from the queue,
stores it and only then acknowledges it: a consumer that dies in between gets the batch again,
and since each message's id is a digest of its body, nothing is counted twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import urllib.parse
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


class Polling:
    """What both consumers share: a poll takes everything there is into the store (``take``),
    then labels what changed; ``run`` polls until stopped, logging a failed poll and retrying."""

    store: InsightsStore
    on_poll: Callable[[PollReport], None] | None = None

    def take(self, report: PollReport) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of a connection after a failure (the next poll opens a new one)."""

    def poll(self) -> PollReport:
        started = time.perf_counter()
        report = PollReport()
        self.take(report)
        report.labelled = self.store.label_pending()
        report.seconds = round(time.perf_counter() - started, 4)
        if self.on_poll is not None:
            self.on_poll(report)
        return report

    def run(self, stopping: threading.Event, every: float = 1.0) -> None:
        while not stopping.is_set():
            try:
                self.poll()
            except Exception:
                logger.exception("reading the event broker failed; retrying")
                self.close()
            stopping.wait(every)
        self.close()


class Consumer(Polling):
    """Moves events from Rasa's SQL broker table into the store and labels what changed."""

    def __init__(self, source: EventSource, store: InsightsStore, *, batch: int = 1000):
        self.source = source
        self.store = store
        self.batch = batch

    @property
    def cursor(self) -> str:
        return f"cursor:{self.source.name}"

    def take(self, report: PollReport) -> None:
        while True:
            after = self.store.position(self.cursor)
            events = self.source.read(after, self.batch)
            fresh = [(i, e) for i, e in events if i > after]
            report.read += len(fresh)
            report.new += self.store.ingest(self.source.name, events, cursor=self.cursor)
            if len(fresh) < self.batch:
                break


def pika_parameters(url: str) -> Any:
    """pika's connection parameters for ``amqp://user@host:port/vhost``; the password comes from
    ASSISTANT_RABBITMQ_PASSWORD when the URL has none."""
    import pika

    parts = urllib.parse.urlsplit(url)
    password = urllib.parse.unquote(parts.password or "") or os.environ.get("ASSISTANT_RABBITMQ_PASSWORD", "")
    user = urllib.parse.unquote(parts.username or "guest")
    netloc = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password or 'guest', safe='')}"
    netloc += f"@{parts.hostname}:{parts.port or (5671 if parts.scheme == 'amqps' else 5672)}"
    path = parts.path if parts.path not in ("", "/") else "/%2F"
    return pika.URLParameters(urllib.parse.urlunsplit((parts.scheme, netloc, path, "", "")))


def queue_of(url: str, default: str = "kestrel_insights") -> str:
    """The queue an ``amqp://...?queue=name`` URL names (ASSISTANT_BROKER_URL)."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("queue", [default])[0]


def message_id(body: bytes) -> int:
    """A stable 63-bit id for a broker message: the same event delivered twice has the same id."""
    return int.from_bytes(hashlib.blake2b(body, digest_size=8).digest(), "big") >> 1


class QueueConsumer(Polling):
    """Rasa's Pika broker's queue into the store, acknowledging only what was stored."""

    def __init__(
        self,
        url: str,
        store: InsightsStore,
        *,
        queue: str | None = None,
        batch: int = 500,
        wait: float = 0.2,
        name: str = "rabbitmq",
    ):
        self.url = url
        self.queue = queue or queue_of(url)
        self.store = store
        self.batch = batch
        self.wait = wait  # seconds without a message that end a batch
        self.name = name
        self._connection: Any = None
        self._channel: Any = None

    def _open(self) -> Any:
        if self._channel is None or self._channel.is_closed:
            import pika

            self.close()
            self._connection = pika.BlockingConnection(pika_parameters(self.url))
            self._channel = self._connection.channel()
            self._channel.queue_declare(self.queue, durable=True)  # as Rasa declares it
            self._channel.basic_qos(prefetch_count=self.batch)
        return self._channel

    def take(self, report: PollReport) -> None:
        channel = self._open()
        while True:
            events: list[tuple[int, dict[str, Any]]] = []
            last_tag = None
            for method, _properties, body in channel.consume(self.queue, inactivity_timeout=self.wait):
                if method is None:  # nothing more for now
                    break
                last_tag = method.delivery_tag
                try:
                    event = json.loads(body)
                except ValueError:
                    logger.warning("broker message %s is not JSON; skipped", method.delivery_tag)
                    event = {}
                events.append((message_id(body), event if isinstance(event, dict) else {}))
                if len(events) >= self.batch:
                    break
            channel.cancel()  # messages prefetched and not taken go back to the queue
            report.read += len(events)
            report.new += self.store.ingest(self.name, events)
            if last_tag is not None:
                channel.basic_ack(delivery_tag=last_tag, multiple=True)  # only after they are stored
            if len(events) < self.batch:
                break

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # already gone
                logger.debug("closing the broker connection failed", exc_info=True)


def consumer_for(url: str, store: InsightsStore) -> Consumer | QueueConsumer:
    """The consumer ASSISTANT_BROKER_URL asks for: a RabbitMQ queue or Rasa's SQL broker table."""
    if url.startswith(("amqp://", "amqps://")):
        return QueueConsumer(url, store)
    return Consumer(SQLBrokerSource(url), store)
