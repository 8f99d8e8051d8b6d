"""The action server's one observer, around every action.

- What the action recorded for analytics (``Services.record``) is added to the action's events,
  so it reaches Rasa's event stream with the conversation (README, "Insights").
- Before any action runs on a new customer message: what that message did with the help offered
  just before (a proactive offer accepted, a person asked for, or ignored), and who the signed-in
  customer is (a keyed hash), are recorded once, whichever action answers it."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor

from actions.account import offer_outcome
from actions.common import identity
from actions.services import RECORDED, Services
from assistant.insights.events import CUSTOMER, INSIGHT_KEY, PROACTIVE_OUTCOME
from assistant.insights.store import customer_key

logger = logging.getLogger(__name__)


class ObservingExecutor(ActionExecutor):
    def __init__(self, services: Services):
        super().__init__()
        self.services = services

    def observe(self, action_call: dict[str, Any]) -> None:
        state = action_call.get("tracker") or {}
        if state.get("latest_action_name") != "action_listen":
            return  # not the first action after the customer's message: already seen
        try:
            tracker = Tracker.from_dict(state)
            self.identify(tracker)
            seen = offer_outcome(tracker)
        except Exception:
            logger.exception("could not read the outcome of an offer")
            return
        if seen is not None:
            offer, outcome = seen
            self.services.record(
                tracker.sender_id,
                PROACTIVE_OUTCOME,
                subject=str(offer.get("id") or ""),
                outcome=outcome,
                failure=offer.get("kind"),
            )

    def identify(self, tracker: Tracker) -> None:
        """The signed-in customer, so that their later conversations count as returns."""
        secret = self.services.settings.identity_secret
        if any(
            e.get("event") == "agent" and (e.get("data") or {}).get(INSIGHT_KEY) == CUSTOMER
            for e in tracker.events
        ):
            return  # told once per conversation
        customer = identity(tracker, secret) if secret else None
        if customer is not None:
            self.services.record(
                tracker.sender_id, CUSTOMER, subject=customer_key(customer.customer_id, secret)
            )

    async def run(self, action_call: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        recorded: list[dict[str, Any]] = []
        token = RECORDED.set(recorded)
        try:
            self.observe(action_call)
            result = await super().run(action_call, *args, **kwargs)
        finally:
            RECORDED.reset(token)
        if recorded and isinstance(result, dict):
            result["events"] = [*(result.get("events") or []), *recorded]
        elif recorded and result is not None:  # rasa-sdk's ActionExecutorRunResult
            result.events = [*(result.events or []), *recorded]
        return result
