"""Rasa's SQL tracker store, publishing to the event broker without reading the tracker again.

Rasa 3.6's ``SQLTrackerStore.save`` first streams the new events to the broker by *retrieving
the whole stored conversation* and diffing it with the one in hand (``stream_events``), then
counts the stored events to know which to insert: every turn read the conversation twice. Here
the events not yet stored (the same count Rasa makes) are published and inserted in one pass.

Rasa indexes ``sender_id`` alone, and reads a conversation ``WHERE sender_id = ? ORDER BY
timestamp``: on PostgreSQL with many conversations that sorts every read. The store adds the
index the read uses, ``(sender_id, timestamp)``, when it opens (several instances may try at
once; the loser's error is ignored).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)


READ_INDEX = "ix_events_sender_id_timestamp"


class StreamingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        index = sa.Index(READ_INDEX, self.SQLEvent.sender_id, self.SQLEvent.timestamp)
        try:
            index.create(self.engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:  # another instance made it at the same moment
            logger.debug("index %s not created here: %s", READ_INDEX, exc)

    async def save(self, tracker: DialogueStateTracker) -> None:
        with self.session_scope() as session:
            events = list(self._additional_events(session, tracker))
            for event in events:
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        if self.event_broker is not None and events:
            await self._stream_new_events(self.event_broker, events, tracker.sender_id)
        logger.debug("tracker %s stored (%d new events)", tracker.sender_id, len(events))
