"""The handoff life cycle through HandoffService: real SQLite stores, and a small fake of the
conversation engine passed in (it records what the customer would be told)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import event, update

from assistant.content import HandoffSettings
from assistant.handoff.service import (
    Actor,
    ConversationUnreachable,
    HandoffNotFound,
    HandoffNotOpen,
    HandoffService,
    InvalidRequest,
    NotYours,
    QueueStanding,
    WithAgent,
)
from assistant.handoff.store import (
    EXPORT_LIMIT,
    QUEUE_LIMIT,
    TICKET_LIMIT,
    HandoffConflict,
    HandoffRecord,
    HandoffStore,
)
from assistant.rasa_client import RasaError

SAM, KIM = Actor("sam", "Sam"), Actor("kim", "Kim")
TOOL = Actor("api", "API", trusted=True)
EVENTS = [
    {"event": "user", "text": "talk to a person", "parse_data": {"intent": {"name": "request_human"}}},
    {"event": "bot", "text": "", "data": {"custom": {"data": {"agent": {"name": "Sam"}, "text": "Hi"}}}},
]


class FakeConversations:
    """Records each call; the operations named in ``down`` fail as an unreachable Rasa does."""

    def __init__(self, down: tuple[str, ...] = ()):
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.down = set(down)

    def _call(self, name: str, conversation_id: str, *args: Any) -> None:
        if name in self.down:
            raise RasaError("Rasa at http://rasa.invalid is unreachable")
        self.calls.append((name, conversation_id, args))

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        self._call("tracker", conversation_id)
        return {"events": EVENTS}

    async def pause(self, conversation_id: str) -> None:
        self._call("pause", conversation_id)

    async def agent_joined(self, conversation_id: str, agent: str) -> None:
        self._call("agent_joined", conversation_id, agent)

    async def send_agent_message(self, conversation_id: str, text: str, agent: str) -> None:
        self._call("send_agent_message", conversation_id, text, agent)

    async def resume(self, conversation_id: str) -> None:
        self._call("resume", conversation_id)

    async def notify_long_wait(self, conversation_id: str) -> None:
        self._call("notify_long_wait", conversation_id)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


@pytest.fixture
def rasa() -> FakeConversations:
    return FakeConversations()


@pytest.fixture
def service(handoff_store: HandoffStore, rasa: FakeConversations) -> HandoffService:
    return HandoffService(handoff_store, HandoffSettings(minutes_per_customer=5), rasa)


def queued(store: HandoffStore, conversation: str = "conv-1", **kwargs: Any) -> HandoffRecord:
    return store.create(
        conversation,
        reason="customer_request",
        stage="transaction",
        transcript=[{"role": "user", "text": "help"}],
        slots={},
        **kwargs,
    )


# ---------------------------------------------------------------- claim


async def test_the_first_agent_to_claim_has_it_and_a_second_is_refused(service, handoff_store, rasa):
    record = queued(handoff_store)
    claimed = await service.claim(record.id, SAM)
    assert (claimed.status, claimed.agent, claimed.agent_name) == ("claimed", "sam", "Sam")
    assert rasa.calls == [("pause", "conv-1", ()), ("agent_joined", "conv-1", ("Sam",))]

    with pytest.raises(NotYours, match="Sam"):
        await service.claim(record.id, KIM)
    assert handoff_store.get(record.id).agent == "sam"

    again = await service.claim(record.id, SAM)  # claiming one's own again: paused again, no new hello
    assert again.agent == "sam" and rasa.names() == ["pause", "agent_joined", "pause"]


async def test_a_claim_stands_when_rasa_cannot_be_told(handoff_store):
    service = HandoffService(handoff_store, HandoffSettings(), FakeConversations(down=("pause",)))
    record = queued(handoff_store)
    assert (await service.claim(record.id, SAM)).status == "claimed"


async def test_missing_and_finished_handoffs_cannot_be_claimed(service, handoff_store, rasa):
    with pytest.raises(HandoffNotFound, match="no handoff 999") as missing:
        await service.claim(999, SAM)
    assert isinstance(missing.value, KeyError)  # for callers that look records up by id
    record = queued(handoff_store)
    await service.close(record.id, SAM, "resolved")
    with pytest.raises(HandoffNotOpen, match="already closed"):
        await service.claim(record.id, SAM)
    assert "pause" not in rasa.names()


# ---------------------------------------------------------------- reply


async def test_only_the_claimer_replies_and_a_reply_to_a_queued_handoff_claims_it(
    service, handoff_store, rasa
):
    record = queued(handoff_store)
    replied = await service.reply(record.id, SAM, "  Hello, I'm Sam  ")
    assert replied.status == "claimed" and replied.agent == "sam"
    assert rasa.calls == [("send_agent_message", "conv-1", ("Hello, I'm Sam", "Sam"))]

    with pytest.raises(NotYours):
        await service.reply(record.id, KIM, "Hi, Kim here")
    with pytest.raises(NotYours):  # a trusted tool names an agent, and that agent must be the one
        await service.reply(record.id, Actor("Kim", "Kim", trusted=True), "Hi")
    assert len(rasa.calls) == 1


@pytest.mark.parametrize("text", ["", "   ", None, 42, "x" * 2001])
async def test_a_reply_is_1_to_2000_characters(service, handoff_store, text):
    record = queued(handoff_store)
    with pytest.raises(InvalidRequest, match="1 to 2000"):
        await service.reply(record.id, SAM, text)
    assert handoff_store.get(record.id).status == "queued"


async def test_an_undelivered_reply_is_reported(handoff_store):
    rasa = FakeConversations(down=("send_agent_message",))
    service = HandoffService(handoff_store, HandoffSettings(), rasa)
    record = queued(handoff_store)
    with pytest.raises(ConversationUnreachable, match="unreachable"):
        await service.reply(record.id, SAM, "Hello")


# ---------------------------------------------------------------- hand back and close


async def test_hand_back_wakes_the_bot_and_keeps_the_whole_conversation(service, handoff_store, rasa):
    record = queued(handoff_store)
    await service.claim(record.id, SAM)
    back = await service.hand_back(record.id, SAM, tags=["Cards"])
    assert (back.status, back.outcome, back.tag_names) == ("resumed", "handed_back", ["cards"])
    assert rasa.names()[-2:] == ["tracker", "resume"]
    assert [t["role"] for t in handoff_store.get(record.id).transcript] == ["user", "agent"]
    with pytest.raises(HandoffNotOpen, match="already resumed"):
        await service.hand_back(record.id, SAM)
    with pytest.raises(HandoffNotOpen):
        await service.reply(record.id, SAM, "late")


async def test_close_needs_an_outcome_and_the_agent_who_has_it(service, handoff_store, rasa):
    record = queued(handoff_store)
    await service.claim(record.id, SAM)
    with pytest.raises(InvalidRequest, match="outcome"):
        await service.close(record.id, SAM, "great")
    with pytest.raises(InvalidRequest, match="tags"):
        await service.close(record.id, SAM, "resolved", tags="cards")
    with pytest.raises(NotYours, match="Sam"):
        await service.close(record.id, KIM, "resolved")
    assert "resume" not in rasa.names()  # nothing refused reached the customer

    closed = await service.close(record.id, SAM, "follow_up", tags=["Billing"])
    assert (closed.status, closed.outcome, closed.tag_names) == ("closed", "follow_up", ["billing"])
    assert rasa.names()[-1] == "resume"  # never left with a paused bot


async def test_a_trusted_tool_may_close_any_agents_handoff(service, handoff_store):
    record = queued(handoff_store)
    await service.claim(record.id, SAM)
    assert (await service.close(record.id, TOOL, "duplicate")).status == "closed"


async def test_rasa_down_leaves_the_handoff_open_and_a_lost_tracker_keeps_the_old_transcript(
    handoff_store,
):
    record = queued(handoff_store)
    down = HandoffService(handoff_store, HandoffSettings(), FakeConversations(down=("tracker", "resume")))
    with pytest.raises(ConversationUnreachable):
        await down.hand_back(record.id, TOOL)
    assert handoff_store.get(record.id).status == "queued"

    no_tracker = HandoffService(handoff_store, HandoffSettings(), FakeConversations(down=("tracker",)))
    back = await no_tracker.hand_back(record.id, TOOL)
    assert back.status == "resumed" and back.transcript == [{"role": "user", "text": "help"}]


def test_the_errors_are_one_family_with_the_stores_conflict():
    assert issubclass(NotYours, HandoffConflict) and issubclass(HandoffNotOpen, HandoffConflict)
    assert issubclass(InvalidRequest, ValueError)


async def test_without_a_conversation_client_only_the_queue_is_read(handoff_store):
    service = HandoffService(handoff_store, HandoffSettings())
    record = queued(handoff_store)
    assert service.standing(record) == QueueStanding(1, 4)
    with pytest.raises(RuntimeError, match="conversation client"):
        await service.claim(record.id, SAM)


# ---------------------------------------------------------------- the queue


async def test_queue_places_and_waits_for_several_customers(service, handoff_store):
    first, second = queued(handoff_store, "a"), queued(handoff_store, "b")
    urgent, third = queued(handoff_store, "c", priority=2), queued(handoff_store, "d")
    standings = [service.standing(r) for r in (urgent, first, second, third)]
    assert standings == [QueueStanding(n, 5 * n) for n in (1, 2, 3, 4)]  # 5 minutes per customer
    assert service.standing_for("b") == QueueStanding(3, 15)

    await service.claim(urgent.id, KIM)
    assert service.standing_for("c") == WithAgent("Kim")
    assert service.standing_for("b") == QueueStanding(2, 10)  # everyone moves up
    listed = [(r.id, s) for r, s in service.queue()]
    assert listed == [
        (first.id, QueueStanding(1, 5)),
        (second.id, QueueStanding(2, 10)),
        (third.id, QueueStanding(3, 15)),
        (urgent.id, None),  # with an agent: after those still waiting
    ]

    await service.close(urgent.id, KIM, "resolved")
    assert service.standing_for("c") is None and service.standing(handoff_store.get(urgent.id)) is None
    assert service.standing_for("nobody") is None


def test_a_handoff_claimed_a_moment_ago_counts_as_next(service, handoff_store):
    record = queued(handoff_store)
    queued(handoff_store, "b", priority=1)
    handoff_store.claim(record.id, "sam", "Sam")
    assert service.place_in_queue(record) == QueueStanding(1, 5)  # the record read before the claim


async def test_customers_waiting_too_long_are_told_once(handoff_store, rasa):
    service = HandoffService(handoff_store, HandoffSettings(long_wait_minutes=10), rasa)
    old, new = queued(handoff_store, "old"), queued(handoff_store, "new")
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with handoff_store.engine.begin() as db:
        db.execute(update(HandoffRecord).where(HandoffRecord.id == old.id).values(created_at=an_hour_ago))
    assert await service.tell_long_waits() == 1
    assert rasa.calls == [("notify_long_wait", "old", ())] and new.id != old.id
    assert await service.tell_long_waits() == 0
    assert handoff_store.get(old.id).wait_notified_at is not None
    off = HandoffService(handoff_store, HandoffSettings(long_wait_minutes=0), rasa)
    assert await off.tell_long_waits() == 0


# ---------------------------------------------------------------- bounded lists


def test_every_list_has_a_limit_the_caller_can_lower(handoff_store):
    for n in range(5):
        queued(handoff_store, f"c{n}")
        handoff_store.create_ticket(f"c{n}", contact="ava@example.com", message="Call me please")
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(handoff_store.engine, "before_cursor_execute", seen)
    try:
        assert len(handoff_store.list(limit=2)) == 2 and len(handoff_store.list()) == 5
        assert len(handoff_store.queue(3)) == 3 and len(handoff_store.queue()) == 5
        assert len(handoff_store.tickets(limit=4)) == 4 and len(handoff_store.tickets(None)) == 5
        assert len(handoff_store.waiting_too_long(0, limit=1)) == 1
        handoff_store.list(limit=10 * EXPORT_LIMIT)  # more than the maximum: the maximum
        handoff_store.queue(10 * QUEUE_LIMIT)
        handoff_store.tickets(limit=10 * TICKET_LIMIT)
    finally:
        event.remove(handoff_store.engine, "before_cursor_execute", seen)
    lists = [(sql, params) for sql, params in statements if re.search(r"\bFROM (handoffs|tickets)\b", sql)]
    assert lists and all("LIMIT" in sql for sql, _ in lists), [sql for sql, _ in lists]
    limits = [params[-2] for _, params in lists[-3:]]  # LIMIT ? OFFSET ?
    assert limits == [EXPORT_LIMIT, QUEUE_LIMIT, TICKET_LIMIT]


@pytest.mark.parametrize("limit", [0, -1, True, "5"])
def test_a_list_limit_is_a_positive_number(handoff_store, limit):
    with pytest.raises(InvalidRequest, match="limit"):
        handoff_store.list(limit=limit)
