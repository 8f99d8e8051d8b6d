"""Conversation outcomes from hand-built Rasa event streams, through the real store (SQLite), one
test per definition and edge case: confirmed and assumed resolutions, a returning customer, a
handoff after a resolution, a ticket, abandonment in a form, a tree, a clarification and after
a decline, a greeting only, test traffic, Rasa's own session restart, and a consumer restart."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import create_engine

from assistant.content import InsightsSettings
from assistant.handoff.store import HandoffStore
from assistant.insights import outcomes as oc
from assistant.insights.events import enrichment
from assistant.insights.source import BROKER_EVENTS, Consumer, SQLBrokerSource
from assistant.insights.store import InsightsStore, Range

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
T0 = NOW - dt.timedelta(hours=1)


class Stream:
    """Rasa events as the broker publishes them, numbered like the broker's table."""

    def __init__(self) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []

    def add(self, sender: str, minute: float, event: dict[str, Any]) -> Stream:
        ts = (T0 + dt.timedelta(minutes=minute)).timestamp()
        self.events.append((len(self.events) + 1, {"sender_id": sender, "timestamp": ts, **event}))
        return self

    def start(self, sender: str, minute: float = 0) -> Stream:
        self.add(sender, minute, {"event": "action", "name": "action_session_start"})
        return self.add(sender, minute, {"event": "session_started"})

    def user(self, sender: str, minute: float, text: str, intent: str, **metadata: Any) -> Stream:
        return self.add(
            sender,
            minute,
            {
                "event": "user",
                "text": text,
                "parse_data": {"intent": {"name": intent, "confidence": 0.9}},
                "input_channel": "socketio",
                "metadata": metadata,
            },
        )

    def insight(self, sender: str, minute: float, kind: str, **detail: Any) -> Stream:
        return self.add(sender, minute, enrichment(kind, **detail))

    def loop(self, sender: str, minute: float, name: str | None) -> Stream:
        return self.add(sender, minute, {"event": "active_loop", "name": name})

    def slot(self, sender: str, minute: float, name: str, value: Any) -> Stream:
        return self.add(sender, minute, {"event": "slot", "name": name, "value": value})


@pytest.fixture
def handoffs(tmp_path) -> HandoffStore:
    return HandoffStore(f"sqlite:///{tmp_path / 'main.db'}")


@pytest.fixture
def store(tmp_path, handoffs) -> InsightsStore:
    return InsightsStore(f"sqlite:///{tmp_path / 'main.db'}", handoffs=handoffs, clock=lambda: NOW)


def ingest(store: InsightsStore, stream: Stream) -> None:
    store.ingest("rasa-sql", stream.events, cursor="cursor:rasa-sql")
    store.label_pending()


def one(store: InsightsStore, sender: str, session: int = 1) -> dict[str, Any]:
    found = store.conversation(f"{sender}#{session}")
    assert found is not None, f"no conversation {sender}#{session}"
    return found


def answered(stream: Stream, sender: str, minute: float = 1, article: str = "card_arrival") -> Stream:
    stream.start(sender, minute - 1)
    stream.user(sender, minute, "where is my card", "ask_question")
    return stream.insight(sender, minute, "article_shown", article_id=article, question="where is my card")


def test_thanks_after_an_answer_is_a_confirmed_resolution(store) -> None:
    stream = answered(Stream(), "s1").user("s1", 2, "thanks, that's it", "thank")
    ingest(store, stream)
    got = one(store, "s1")
    assert got["outcome"] == oc.RESOLVED_CONFIRMED
    assert got["topics"] == ["card_arrival"] and got["turns"] == 2


def test_a_thumbs_up_and_a_solved_tree_confirm_too(store) -> None:
    stream = answered(Stream(), "up").insight("up", 2, "feedback", article_id="card_arrival", helpful=True)
    stream.start("tree", 0).user("tree", 1, "my top up failed", "troubleshoot")
    stream.loop("tree", 1, "troubleshoot_form").slot("tree", 1, "tree_id", "top_up_failed")
    stream.slot("tree", 1, "tree_node", "card_or_bank").loop("tree", 3, None)
    stream.insight("tree", 3, "tree_finished", tree="top_up_failed", outcome="solved")
    ingest(store, stream)
    assert one(store, "up")["outcome"] == oc.RESOLVED_CONFIRMED
    assert one(store, "tree")["outcome"] == oc.RESOLVED_CONFIRMED


def test_an_answer_without_return_is_assumed_provisional_until_the_window_passes(tmp_path) -> None:
    clock = [NOW]
    store = InsightsStore(f"sqlite:///{tmp_path / 'a.db'}", clock=lambda: clock[0])
    ingest(store, answered(Stream(), "s1"))
    got = one(store, "s1")
    assert (got["outcome"], got["provisional"], got["durable"]) == (oc.RESOLVED_ASSUMED, True, True)
    clock[0] = NOW + dt.timedelta(days=8)  # nobody came back: relabelled, for good
    assert store.label_pending() == 1
    assert one(store, "s1")["provisional"] is False


def test_a_returning_customer_on_the_same_topic_undoes_an_assumed_resolution(store) -> None:
    stream = answered(Stream(), "first").insight("first", 1, "customer", subject="cust-hash")
    # two hours later, another conversation of the same customer about the same article
    stream.start("again", 120).insight("again", 120, "customer", subject="cust-hash")
    stream.user("again", 121, "still no card", "ask_question")
    stream.insight("again", 121, "article_shown", article_id="card_arrival", question="still no card")
    # and a customer who came back three days later, and one about something else
    answered(stream, "later", 1, "exchange_rate").insight("later", 1, "customer", subject="other-hash")
    stream.start("later-2", 3 * 24 * 60).insight("later-2", 3 * 24 * 60, "customer", subject="other-hash")
    stream.user("later-2", 3 * 24 * 60 + 1, "rates?", "ask_question")
    stream.insight("later-2", 3 * 24 * 60 + 1, "article_shown", article_id="exchange_rate", question="rates?")
    answered(stream, "elsewhere", 1, "freeze_card").insight("elsewhere", 1, "customer", subject="third")
    stream.start("elsewhere-2", 90).insight("elsewhere-2", 90, "customer", subject="third")
    stream.user("elsewhere-2", 91, "fees?", "ask_question")
    stream.insight("elsewhere-2", 91, "article_shown", article_id="exchange_fees", question="fees?")
    ingest(store, stream)
    store.label_pending()  # the earlier conversations were marked for relabelling by the later ones
    first = one(store, "first")
    assert (first["outcome"], first["where"]) == (oc.ABANDONED, "came back about it within 24 h")
    later = one(store, "later")
    assert (later["outcome"], later["durable"]) == (oc.RESOLVED_ASSUMED, False)
    elsewhere = one(store, "elsewhere")
    assert (elsewhere["outcome"], elsewhere["durable"]) == (oc.RESOLVED_ASSUMED, True)


def test_a_handoff_after_a_resolution_is_an_escalation_with_its_reason(store, handoffs) -> None:
    ingest(
        store,
        answered(Stream(), "s1")
        .user("s1", 2, "thanks", "thank")
        .user("s1", 3, "a human please", "request_human"),
    )
    assert one(store, "s1")["outcome"] == oc.RESOLVED_CONFIRMED
    handoffs.create("s1", reason="customer_asked", stage="information_gathering", transcript=[], slots={})
    ingest(store, Stream().add("s1", 4, {"event": "action", "name": "action_handoff"}))
    got = one(store, "s1")
    assert (got["outcome"], got["reason"], got["where"]) == (
        oc.ESCALATED,
        "customer_asked",
        "information_gathering",
    )
    assert store.handoffs_by(Range.last_days(2))["by_reason"] == [{"reason": "customer_asked", "n": 1}]


def test_a_message_left_for_the_team_is_a_ticket(store, handoffs) -> None:
    record = handoffs.create("s1", reason="customer_asked", stage="", transcript=[], slots={})
    handoffs.create_ticket("s1", contact="a@b.example", message="call me back please", handoff_id=record.id)
    ingest(store, Stream().start("s1").user("s1", 1, "agent", "request_human"))
    assert one(store, "s1")["outcome"] == oc.TICKET


def test_leaving_inside_a_form_is_abandonment_at_its_field(store) -> None:
    stream = Stream().start("s1").user("s1", 1, "send money", "make_transfer")
    stream.loop("s1", 1, "transfer_form").slot("s1", 1, "requested_slot", "payee")
    stream.user("s1", 2, "mum", "choose").slot("s1", 2, "requested_slot", "amount")
    ingest(store, stream)
    got = one(store, "s1")
    assert (got["outcome"], got["where"]) == (oc.ABANDONED, "form transfer_form/amount")
    forms = store.dropoff(Range.last_days(2))["forms"]
    assert {"form": "transfer_form", "field": "amount", "reached": 1, "left": 1} in forms
    assert {"form": "transfer_form", "field": "payee", "reached": 1, "left": 0} in forms
    assert store.funnel(Range.last_days(2))[3] == {"stage": "transaction", "conversations": 1}


def test_a_completed_transaction_resolves_and_a_refused_one_is_counted_by_code(store) -> None:
    stream = Stream().start("ok").user("ok", 1, "freeze my card", "freeze_card")
    stream.loop("ok", 1, "freeze_card_form").slot("ok", 1, "requested_slot", "card").loop("ok", 2, None)
    stream.insight("ok", 2, "transaction", form="freeze_card_form", ok=True)
    stream.start("no").user("no", 1, "send 5000 to sam", "make_transfer").loop("no", 1, "transfer_form")
    stream.loop("no", 2, None).insight(
        "no", 2, "transaction", form="transfer_form", ok=False, code="over_limit"
    )
    ingest(store, stream)
    assert one(store, "ok")["outcome"] == oc.RESOLVED_ASSUMED
    refused = one(store, "no")
    assert (refused["outcome"], refused["where"]) == (oc.ABANDONED, "refused: over_limit")
    assert store.refusals(Range.last_days(2)) == [
        {"operation": "transfer_form", "code": "over_limit", "n": 1}
    ]


def test_leaving_inside_a_tree_is_abandonment_at_its_node(store) -> None:
    stream = Stream().start("s1").user("s1", 1, "card not arrived", "troubleshoot")
    stream.loop("s1", 1, "troubleshoot_form").slot("s1", 1, "tree_id", "card_not_arrived")
    stream.slot("s1", 1, "tree_node", "ordered_when").slot("s1", 2, "tree_node", "address_right")
    ingest(store, stream)
    got = one(store, "s1")
    assert (got["outcome"], got["where"]) == (oc.ABANDONED, "tree card_not_arrived/address_right")
    trees = store.dropoff(Range.last_days(2))["trees"]
    assert {"tree": "card_not_arrived", "node": "address_right", "reached": 1, "left": 1} in trees
    drill = store.conversations(
        Range.last_days(2), {"tree": "card_not_arrived", "node": "address_right", "left": "1"}
    )
    assert [c["conversation_id"] for c in drill["rows"]] == ["s1#1"]


def test_declines_and_abandoned_clarifications_are_failed_questions(store) -> None:
    stream = Stream().start("d").user("d", 1, "can I get a mortgage", "ask_question")
    stream.insight("d", 1, "search_failed", question="can I get a mortgage")
    stream.start("c").user("c", 1, "card thing", "ask_question")
    stream.insight("c", 1, "clarified", question="card thing", options=["a", "b"])
    stream.start("p").user("p", 1, "what about crypto", "ask_question")
    stream.insight("p", 1, "search_failed", question="what about crypto").user(
        "p", 2, "agent", "request_human"
    )
    answered(stream, "down").insight("down", 2, "feedback", article_id="card_arrival", helpful=False)
    ingest(store, stream)
    assert one(store, "d")["where"] == "after a decline"
    assert one(store, "c")["where"] == "clarification"
    failed = {(row["question"], row["how"]) for row in store.failed_questions(Range.last_days(2))}
    assert failed == {
        ("can i get a mortgage", oc.DECLINED),
        ("card thing", oc.CLARIFIED_ABANDONED),
        ("what about crypto", oc.DECLINED),  # declined, then a person: both, one row per question
        ("where is my card", oc.THUMBS_DOWN),
    }
    assert {f.how for f in store.open_failed() if f.question == "what about crypto"} == {
        oc.DECLINED,
        oc.THEN_PERSON,
    }
    assert store.feedback(Range.last_days(2))[0]["down"] == 1


def test_a_greeting_only_is_no_request_and_not_in_the_containment_rate(store) -> None:
    stream = Stream().start("hi").user("hi", 1, "hello", "greet")
    answered(stream, "s1")
    ingest(store, stream)
    summary = store.summary(Range.last_days(2))
    assert (summary["conversations"], summary["asked"], summary["no_request"]) == (2, 1, 1)
    assert summary["containment_rate"] == 1.0


def test_test_traffic_is_kept_apart_from_every_figure(store) -> None:
    stream = answered(Stream(), "live")
    stream.start("bench").user("bench", 1, "where is my card", "ask_question", traffic="test")
    stream.insight("bench", 1, "article_shown", article_id="freeze_card")
    stream.start("sim").user("sim", 1, "where is my card", "ask_question", simulated=True)
    stream.insight("sim", 1, "article_shown", article_id="freeze_card")
    ingest(store, stream)
    assert store.summary(Range.last_days(2))["conversations"] == 1
    assert store.summary(Range.last_days(2, traffic="test"))["conversations"] == 2
    assert [a["article_id"] for a in store.articles(Range.last_days(2))] == ["card_arrival"]
    assert store.top_articles(min_events=1) == ["card_arrival"]  # a load run never reorders them


def test_a_new_rasa_session_after_some_turns_is_a_new_conversation(store) -> None:
    stream = answered(Stream(), "s1")
    stream.start("s1", 90).user("s1", 91, "hello again", "greet")
    ingest(store, stream)
    assert one(store, "s1", 1)["outcome"] == oc.RESOLVED_ASSUMED
    assert one(store, "s1", 2)["outcome"] == oc.NO_REQUEST


def test_a_restarted_consumer_counts_nothing_twice(tmp_path, store) -> None:
    broker = f"sqlite:///{tmp_path / 'events.db'}"
    engine = create_engine(broker)
    BROKER_EVENTS.metadata.create_all(engine)
    stream = answered(Stream(), "s1").user("s1", 2, "thanks", "thank")
    with engine.begin() as db:
        for _, event in stream.events:
            db.execute(BROKER_EVENTS.insert().values(sender_id=event["sender_id"], data=json.dumps(event)))
    first = Consumer(SQLBrokerSource(broker), store).poll()
    assert (first.read, first.new) == (len(stream.events), 4)  # action_session_start is not counted
    again = Consumer(SQLBrokerSource(broker), store).poll()  # a new process, the same store
    assert (again.read, again.new) == (0, 0)
    store.ingest("rasa-sql", stream.events)  # the same events re-read by an overlap
    store.label_pending()
    summary = store.summary(Range.last_days(2))
    assert (summary["conversations"], summary["resolved_confirmed"]) == (1, 1)
    assert len(store.events_of("s1")) == 4


def test_the_settings_are_validated() -> None:
    with pytest.raises(TypeError):
        InsightsSettings(min_cluster_size=0)
    with pytest.raises(TypeError):
        InsightsSettings(cluster_distance=1.5)
    with pytest.raises(ValueError):
        Range(dt.date(2026, 1, 2), dt.date(2026, 1, 1))
