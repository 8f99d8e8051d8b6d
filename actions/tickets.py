"""When no one can take the conversation: leave a message (a ticket), or keep waiting.

A customer is offered this when no agent is online at handoff time, and when the web app tells
them the wait has run long (``EXTERNAL_long_wait``). Either way the bot stays awake so their
answer is heard; "keep waiting" pauses it again for the agent.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import custom_payload, identity
from actions.services import ServiceAction, Services
from assistant.handoff.service import QueueStanding
from assistant.handoff.store import HandoffRecord

logger = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
MIN_MESSAGE, MAX_MESSAGE = 5, 2000


def leave_form() -> list[EventType]:
    """Stop the form the customer was in: a message replaces it (its values are in the handoff)."""
    return [ActiveLoop(None), SlotSet("requested_slot", None)]


def queue_offer(services: Services, dispatcher: CollectingDispatcher, response: str, **kwargs: Any) -> None:
    dispatcher.utter_message(
        response=response,
        buttons=[services.button("leave_message"), services.button("keep_waiting")],
        **kwargs,
    )


def place_in_queue(services: Services, record: HandoffRecord) -> QueueStanding:
    """A queued handoff's place and estimated wait: the handoff service's one computation."""
    return services.handoff_service.place_in_queue(record)


def placeholders(standing: QueueStanding) -> dict[str, int]:
    """The ``{position}`` and ``{wait}`` of the queue responses in the domain."""
    return {"position": standing.position, "wait": standing.wait_minutes}


def answer_if_waiting(services: Services, dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A customer waiting for a person (offered to leave a message, or queued) gets where they
    stand and the choice again, whatever they say: never a fresh greeting or a failed search."""
    try:
        record = services.handoffs.open_for(tracker.sender_id)
    except Exception:
        logger.exception("could not look up the handoff for %s", tracker.sender_id)
        return False
    if record is None or record.status != "queued":
        return False
    queue_offer(services, dispatcher, "utter_still_queued", **placeholders(place_in_queue(services, record)))
    return True


def tell_position(
    dispatcher: CollectingDispatcher, services: Services, record: HandoffRecord, response: str
) -> None:
    """The customer's place in the queue and the estimated wait, as text and as a payload."""
    standing = place_in_queue(services, record)
    dispatcher.utter_message(
        response=response,
        **placeholders(standing),
        json_message=custom_payload(handoff={"id": record.id, "status": "queued", **asdict(standing)}),
    )


class ActionWaitNotice(ServiceAction, Action):
    """The queue has been slow: say so once, and offer to leave a message."""

    def name(self) -> str:
        return "action_wait_notice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        store = self.services.handoffs
        record = store.open_for(tracker.sender_id)
        if record is None or record.status != "queued":
            # an agent took it meanwhile (or it ended): nothing to say, and the agent leads again
            return [ConversationPaused()] if record is not None else []
        standing = place_in_queue(self.services, record)
        queue_offer(self.services, dispatcher, "utter_long_wait", **placeholders(standing))
        return leave_form() if tracker.active_loop_name else []


class ActionKeepWaiting(ServiceAction, Action):
    def name(self) -> str:
        return "action_keep_waiting"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        store = self.services.handoffs
        record = store.open_for(tracker.sender_id)
        if record is None:
            dispatcher.utter_message(response="utter_not_in_queue")
            return []
        if record.status == "queued":  # else claimed: the agent is there
            tell_position(dispatcher, self.services, record, "utter_still_queued")
        return [ConversationPaused()]


class ValidateTicketForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_form"

    def validate_ticket_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if len(text) < MIN_MESSAGE:
            dispatcher.utter_message(response="utter_ticket_message_short")
            return {"ticket_message": None}
        if len(text) > MAX_MESSAGE:
            dispatcher.utter_message(response="utter_ticket_message_long", limit=MAX_MESSAGE)
            return {"ticket_message": None}
        return {"ticket_message": text}

    def validate_ticket_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        digits = sum(ch.isdigit() for ch in text)
        if EMAIL.match(text) or (PHONE.match(text) and 7 <= digits <= 15):
            return {"ticket_contact": text}
        dispatcher.utter_message(response="utter_ticket_contact_invalid")
        return {"ticket_contact": None}


class ActionSubmitTicket(ServiceAction, Action):
    def name(self) -> str:
        return "action_submit_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        store = self.services.handoffs
        contact = str(tracker.get_slot("ticket_contact") or "")
        message = str(tracker.get_slot("ticket_message") or "")
        clear = [SlotSet("ticket_message", None), SlotSet("ticket_contact", None)]
        customer = identity(tracker, self.services.settings.identity_secret)
        try:
            record = store.open_for(tracker.sender_id)
            ticket = store.create_ticket(
                tracker.sender_id,
                contact=contact,
                message=message,
                customer_id=customer.customer_id if customer else "",
                handoff_id=record.id if record else None,
            )
        except Exception:
            logger.exception("could not store the message of %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_handoff_failed")
            return clear
        dispatcher.utter_message(
            response="utter_ticket_stored",
            reference=f"T-{ticket.id}",
            contact=contact,
            json_message=custom_payload(ticket={"id": ticket.id}),
        )
        return clear
