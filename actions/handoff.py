"""Hand the conversation to a person: store the context, tell the customer, pause the bot."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import custom_payload, identity
from actions.services import ServiceAction
from actions.tickets import leave_form, queue_offer, tell_position
from assistant import handoff_spool
from assistant.chat_session import log_ref
from assistant.handoff.summary import priority, summarise
from assistant.handoff.transcript import transcript_from_events

logger = logging.getLogger(__name__)

DEFAULT_REASON = "customer_request"
INTENT_REASONS = {"request_sales": "sales", "request_human": DEFAULT_REASON}
INTERNAL_SLOTS = {"requested_slot", "session_started_metadata"}


def handoff_reason(tracker: Tracker) -> str:
    """Why: set by the flow (a tree left unresolved...), else what the customer asked for."""
    reason = tracker.get_slot("handoff_reason")
    if reason:
        return str(reason)
    intent = tracker.latest_message.get("intent", {}).get("name")
    reason = INTENT_REASONS.get(intent or "", DEFAULT_REASON)
    if reason == DEFAULT_REASON and tracker.active_loop_name:
        return f"{DEFAULT_REASON}_in_{tracker.active_loop_name}"
    return reason


class ActionHandoff(ServiceAction, Action):
    def name(self) -> str:
        return "action_handoff"

    def _keep_for_later(
        self,
        tracker: Tracker,
        reason: str,
        stage: str,
        slots: dict[str, Any],
        transcript: list[dict[str, Any]],
    ) -> bool:
        """The store refused the handoff (locked, down): keep the request on disk; the web app
        records it as soon as the store takes it. False when there is nowhere to keep it."""
        path = self.services.settings.handoff_spool
        if path is None:
            return False
        record = {
            "conversation_id": tracker.sender_id,
            "reason": reason,
            "stage": stage,
            "slots": slots,
            "priority": priority(transcript, reason=reason, slots=slots),
            "events": list(tracker.events),  # the newest that fit are kept
        }
        try:
            handoff_spool.append(path, record)
        except (OSError, TypeError, ValueError):
            logger.exception("could not keep the handoff of %s for later", log_ref(tracker.sender_id))
            return False
        return True

    def _nobody_online(self) -> bool:
        services = self.services
        if not services.content.handoff.message_when_no_agent or services.staff is None:
            return False
        try:
            return services.staff.agents_online() == 0
        except Exception:  # unknown: queue as usual rather than turn the customer away
            logger.exception("could not check whether agents are online")
            return False

    def _over_the_limit(self, tracker: Tracker) -> bool:
        """This conversation already opened ``max_per_hour`` handoffs in the last hour (a script
        opening hundreds would flood the queue; new conversations are held back by the
        per-address message limits at the door)."""
        import datetime as dt

        limit = self.services.content.handoff.max_per_hour
        if not limit:
            return False
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        store = self.services.handoffs
        over = store.count_since(since, conversation_id=tracker.sender_id) >= limit
        if over:
            logger.warning(
                "handoff refused: %s handoffs in the last hour (%s)", limit, log_ref(tracker.sender_id)
            )
        return over

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reason = handoff_reason(tracker)
        stage = tracker.get_slot("stage") or "introduction"
        slots = {
            k: v
            for k, v in tracker.current_slot_values().items()
            if v is not None and k not in INTERNAL_SLOTS
        }
        if tracker.active_loop_name:
            slots["active_form"] = tracker.active_loop_name
            slots["requested_slot"] = tracker.get_slot("requested_slot")
        customer = identity(tracker, self.services.settings.identity_secret)
        if customer is not None:
            slots["customer_id"], slots["segment"] = customer.customer_id, customer.segment
        store = self.services.handoffs
        transcript = transcript_from_events(tracker.events)
        try:
            if store.open_for(tracker.sender_id) is None and self._over_the_limit(tracker):
                dispatcher.utter_message(
                    response="utter_handoff_limited", buttons=[self.services.button("leave_message")]
                )
                return [SlotSet("handoff_reason", None)]
            record = store.open_for(tracker.sender_id) or store.create(
                tracker.sender_id,
                reason=reason,
                stage=stage,
                transcript=transcript,
                slots=slots,
                summary=summarise(transcript, reason=reason, stage=stage, slots=slots),
                priority=priority(transcript, reason=reason, slots=slots),
                customer_id=str(slots.get("customer_id", "")),
            )
        except Exception:
            logger.exception("could not record the handoff for %s", log_ref(tracker.sender_id))
            kept = self._keep_for_later(tracker, reason, stage, slots, transcript)
            dispatcher.utter_message(response="utter_handoff_kept" if kept else "utter_handoff_failed")
            return [SlotSet("handoff_reason", None)] if kept else []
        logger.info("handoff %s for %s (%s, stage %s)", record.id, log_ref(tracker.sender_id), reason, stage)
        if self._nobody_online():
            # Offer a message rather than a queue no one is watching; the customer may still wait.
            queue_offer(
                self.services,
                dispatcher,
                "utter_handoff_no_agent",
                json_message=custom_payload(handoff={"id": record.id, "status": "no_agent"}),
            )
            events: list[EventType] = [SlotSet("handoff_reason", None)]
            return events + (leave_form() if tracker.active_loop_name else [])
        tell_position(dispatcher, self.services, record, "utter_handoff_queued")
        return [SlotSet("handoff_reason", None), ConversationPaused()]
