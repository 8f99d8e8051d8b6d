"""The action server's one observer: before any action runs on a new customer message, what that
message did with the help offered just before (a proactive offer accepted, a person asked for, or
ignored) is recorded for analytics, once, whichever action answers it."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import ActionExecutor

from actions.account import offer_outcome
from actions.services import Services
from assistant.analytics import PROACTIVE_OUTCOME

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

    async def run(self, action_call: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.observe(action_call)
        return await super().run(action_call, *args, **kwargs)
