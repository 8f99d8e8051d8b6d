"""The analytics consumer on the machine's real RabbitMQ, fed as Rasa's Pika broker feeds it (a
fanout exchange, our durable queue, one JSON event per message): everything is stored once, a
batch is acknowledged only once it is stored, and a consumer that dies before acknowledging
gets the batch again and counts nothing twice."""

from __future__ import annotations

import json
import os
import secrets

import pytest

from assistant import production
from assistant.insights.source import QueueConsumer, consumer_for, message_id, pika_parameters
from assistant.insights.store import InsightsStore, Range
from tests.insights.test_outcomes import NOW, Stream, answered

URL = os.environ.get("ASSISTANT_TEST_RABBITMQ_URL", "amqp://guest@127.0.0.1:5672/")


@pytest.fixture
def queue():
    import pika

    name = f"kestrel_test_{secrets.token_hex(4)}"
    try:
        production.declare_queue(URL, f"{name}-x", name)
    except pika.exceptions.AMQPError as exc:
        pytest.fail(f"RabbitMQ is not reachable at {URL} ({exc}); the machine runs one (see env)")
    yield name
    production.delete_queue(URL, f"{name}-x", name)


def publish(queue: str, events: list[dict]) -> None:
    import pika

    connection = pika.BlockingConnection(pika_parameters(URL))
    channel = connection.channel()
    for event in events:  # as Rasa's Pika broker does: to the exchange, JSON bodies
        channel.basic_publish(f"{queue}-x", "", json.dumps(event).encode())
    connection.close()


def depth(queue: str) -> int:
    import pika

    connection = pika.BlockingConnection(pika_parameters(URL))
    try:
        return connection.channel().queue_declare(queue, durable=True, passive=True).method.message_count
    finally:
        connection.close()


@pytest.fixture
def store(tmp_path) -> InsightsStore:
    return InsightsStore(f"sqlite:///{tmp_path / 'main.db'}", clock=lambda: NOW)


def events() -> list[dict]:
    stream = answered(Stream(), "q1").user("q1", 2, "thanks", "thank")
    return [event for _, event in stream.events]


def test_events_are_stored_once_and_acknowledged(queue, store) -> None:
    publish(queue, events())
    consumer = QueueConsumer(f"{URL}?queue={queue}", store, wait=0.3)
    report = consumer.poll()
    assert (report.read, report.new) == (len(events()), 4)  # action_session_start is not counted
    assert depth(queue) == 0  # acknowledged once stored
    assert consumer.poll().read == 0
    consumer.close()
    summary = store.summary(Range.last_days(2))
    assert (summary["conversations"], summary["resolved_confirmed"]) == (1, 1)


def test_a_consumer_that_dies_before_acknowledging_counts_nothing_twice(queue, store) -> None:
    publish(queue, events())

    class DiesBeforeAck(QueueConsumer):
        def poll(self):  # stores the batch, then the process is gone: no acknowledgement
            channel = self._open()
            taken = []
            for method, _props, body in channel.consume(self.queue, inactivity_timeout=0.3):
                if method is None:
                    break
                taken.append((message_id(body), json.loads(body)))
            self.store.ingest(self.name, taken)
            self._connection.close()  # unacknowledged: RabbitMQ delivers them again
            self._channel = None
            return len(taken)

    assert DiesBeforeAck(f"{URL}?queue={queue}", store).poll() == len(events())
    assert depth(queue) == len(events())  # back in the queue
    again = QueueConsumer(f"{URL}?queue={queue}", store, wait=0.3)
    report = again.poll()
    again.close()
    assert (report.read, report.new) == (len(events()), 0)  # read again, stored already
    assert depth(queue) == 0
    assert len(store.events_of("q1")) == 4


def test_the_consumer_follows_the_url() -> None:
    store = object()
    assert isinstance(consumer_for("amqp://guest@mq:5672/?queue=k", store), QueueConsumer)  # type: ignore[arg-type]
    assert consumer_for("amqp://guest@mq:5672/?queue=k", store).queue == "k"  # type: ignore[arg-type,union-attr]
    assert type(consumer_for("sqlite:///x.db", store)).__name__ == "Consumer"  # type: ignore[arg-type]
