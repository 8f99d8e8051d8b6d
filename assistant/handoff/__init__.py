"""Handoff records, their transcripts, their store (SQLAlchemy; SQLite by default) and the
service that owns their life cycle (queue standing, claim, reply, hand back, close)."""

from assistant.handoff.service import Actor, HandoffService, QueueStanding, WithAgent
from assistant.handoff.store import HandoffError, HandoffRecord, HandoffStore
from assistant.handoff.transcript import transcript_from_events

__all__ = [
    "Actor",
    "HandoffError",
    "HandoffRecord",
    "HandoffService",
    "HandoffStore",
    "QueueStanding",
    "WithAgent",
    "transcript_from_events",
]
