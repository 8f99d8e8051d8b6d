"""Handoff records, their transcripts and their store (SQLAlchemy; SQLite by default)."""

from assistant.handoff.store import HandoffRecord, HandoffStore
from assistant.handoff.transcript import transcript_from_events

__all__ = ["HandoffRecord", "HandoffStore", "transcript_from_events"]
