"""No one to take the conversation: the no-agent offer, the long-wait notice, keep waiting, and
the message (ticket) form, with real SQLite stores."""

from __future__ import annotations

import dataclasses

import pytest
from rasa_sdk.events import ActiveLoop, ConversationPaused, SlotSet

from actions.handoff import ActionHandoff
from actions.tickets import ActionKeepWaiting, ActionSubmitTicket, ActionWaitNotice, ValidateTicketForm
from assistant.staff.store import StaffStore
from tests.actions.conftest import make_tracker

PASSWORD = "correct horse battery"


@pytest.fixture
def staff(tmp_path):
    return StaffStore(f"sqlite:///{tmp_path / 'handoffs.db'}")


@pytest.fixture
def with_staff(services, staff):
    return dataclasses.replace(services, staff=staff)


def agent_online(staff):
    staff.start_session(staff.add_user("sam", PASSWORD, role="agent"))


async def test_no_agent_online_offers_a_message_and_leaves_the_form(with_staff, dispatcher):
    tracker = make_tracker("talk to a person", intent="request_human", active_loop="transfer_form")
    events = await ActionHandoff(with_staff).run(dispatcher, tracker, {})
    assert ConversationPaused() not in events  # awake, so the customer's answer is heard
    assert ActiveLoop(None) in events
    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff_no_agent"
    assert [b["payload"] for b in message["buttons"]] == ["/leave_message", "/keep_waiting"]
    [record] = with_staff.handoffs.list()
    assert record.status == "queued" and record.slots["active_form"] == "transfer_form"


async def test_with_an_agent_online_the_customer_is_queued(with_staff, staff, dispatcher):
    agent_online(staff)
    events = await ActionHandoff(with_staff).run(
        dispatcher, make_tracker("human", intent="request_human"), {}
    )
    assert ConversationPaused() in events
    assert dispatcher.messages[0]["response"] == "utter_handoff_queued"


async def test_the_offer_can_be_switched_off(with_staff, dispatcher):
    handoff = dataclasses.replace(with_staff.content.handoff, message_when_no_agent=False)
    services = dataclasses.replace(
        with_staff, content=dataclasses.replace(with_staff.content, handoff=handoff)
    )
    events = await ActionHandoff(services).run(dispatcher, make_tracker("human", intent="request_human"), {})
    assert ConversationPaused() in events


async def test_a_long_wait_is_told_with_the_position_and_keep_waiting_pauses_again(services, dispatcher):
    services.handoffs.create("other", reason="r", stage="s", transcript=[], slots={})
    mine = services.handoffs.create("customer-1", reason="r", stage="s", transcript=[], slots={})
    tracker = make_tracker("", intent="EXTERNAL_long_wait", active_loop="freeze_card_form")
    events = await ActionWaitNotice(services).run(dispatcher, tracker, {})
    notice = dispatcher.messages[0]
    assert notice["response"] == "utter_long_wait" and notice["position"] == 2 and notice["wait"] == 8
    assert ActiveLoop(None) in events and ConversationPaused() not in events

    events = await ActionKeepWaiting(services).run(
        dispatcher, make_tracker("I'll wait", intent="keep_waiting"), {}
    )
    assert events == [ConversationPaused()]
    assert dispatcher.messages[1]["custom"]["data"]["handoff"]["id"] == mine.id


async def test_no_notice_once_an_agent_has_it(services, dispatcher):
    record = services.handoffs.create("customer-1", reason="r", stage="s", transcript=[], slots={})
    services.handoffs.claim(record.id, "sam")
    events = await ActionWaitNotice(services).run(dispatcher, make_tracker(""), {})
    assert events == [ConversationPaused()] and dispatcher.messages == []


async def test_keep_waiting_outside_a_queue_says_so(services, dispatcher):
    assert await ActionKeepWaiting(services).run(dispatcher, make_tracker("I'll wait"), {}) == []
    assert dispatcher.messages[0]["response"] == "utter_not_in_queue"


@pytest.mark.parametrize(
    ("slot", "value", "kept"),
    [
        ("ticket_message", "My   card was charged twice", "My card was charged twice"),
        ("ticket_message", "hm", None),
        ("ticket_message", "x" * 2001, None),
        ("ticket_contact", "ava@example.com", "ava@example.com"),
        ("ticket_contact", "+44 7700 900123", "+44 7700 900123"),
        ("ticket_contact", "call me", None),
        ("ticket_contact", "12", None),
    ],
)
async def test_the_message_and_contact_are_validated(dispatcher, slot, value, kept):
    validate = getattr(ValidateTicketForm(), f"validate_{slot}")
    assert validate(value, dispatcher, make_tracker(value), {}) == {slot: kept}
    assert bool(dispatcher.messages) is (kept is None)  # a reason whenever it is refused


async def test_the_message_is_stored_as_a_ticket_and_closes_the_handoff(services, dispatcher):
    record = services.handoffs.create("customer-1", reason="r", stage="s", transcript=[], slots={})
    tracker = make_tracker(
        "ava@example.com", slots={"ticket_message": "Card charged twice", "ticket_contact": "ava@example.com"}
    )
    events = await ActionSubmitTicket(services).run(dispatcher, tracker, {})
    [ticket] = services.handoffs.tickets()
    assert (ticket.contact, ticket.message, ticket.handoff_id) == (
        "ava@example.com",
        "Card charged twice",
        record.id,
    )
    assert services.handoffs.get(record.id).outcome == "ticket"
    assert dispatcher.messages[0]["reference"] == f"T-{ticket.id}"
    assert SlotSet("ticket_message", None) in events
