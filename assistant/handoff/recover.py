"""Requests for a person kept on disk while the assistant was unavailable
(:mod:`assistant.handoff_spool`), recorded as handoffs once the store can take them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from assistant import handoff_spool
from assistant.chat_session import log_ref
from assistant.handoff.store import HandoffStore
from assistant.handoff.summary import summarise
from assistant.handoff.transcript import transcript_from_events

logger = logging.getLogger(__name__)

REASON = "asked for a person while the assistant was unavailable"
STAGE = "unavailable"


def record_spooled(store: HandoffStore, record: dict[str, Any]) -> None:
    """One spooled request as a queued handoff (once: not when the conversation has one open).
    The channel keeps only the conversation and its last events; the handoff action, when the
    store refused it, keeps its reason, stage, slots and priority too."""
    conversation = record["conversation_id"]
    if store.open_for(conversation) is not None:
        return
    raw = record.get("events")
    events: list[dict[str, Any]] = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
    transcript = transcript_from_events(events) or [{"role": "user", "text": str(record.get("text", ""))}]
    reason, stage = str(record.get("reason") or REASON), str(record.get("stage") or STAGE)
    given = record.get("slots")
    slots: dict[str, Any] = given if isinstance(given, dict) else {}
    store.create(
        conversation,
        reason=reason,
        stage=stage,
        transcript=transcript,
        slots=slots,
        summary=summarise(transcript, reason=reason, stage=stage, slots=slots),
        priority=max(1, int(record.get("priority") or 0)),  # they met a failure on our side first
        customer_id=str(slots.get("customer_id", "")),
    )
    logger.info("request for a person in %s recorded after the outage", log_ref(conversation))


async def drain_forever(store: HandoffStore, spool: Path, every: float = 5.0) -> None:
    while True:
        try:
            await asyncio.to_thread(handoff_spool.drain, spool, lambda r: record_spooled(store, r))
        except Exception:  # keep draining whatever one round hit
            logger.exception("the handoff spool could not be drained")
        await asyncio.sleep(every)
