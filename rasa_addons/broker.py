"""Rasa's SQL event broker, fit for a SQLite file several Rasa processes write.

Rasa's ``SQLEventBroker`` opens the database with SQLAlchemy's defaults: on SQLite, a second
process writing at the same moment fails with "database is locked", and the failure propagates
into the tracker store's save (the customer's turn is lost). Here the file uses write-ahead
logging with a busy timeout, and a broker failure is logged instead of raised: analytics may
miss an event, a conversation never does.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.brokers.sql import SQLEventBroker
from sqlalchemy import event

logger = logging.getLogger(__name__)


class SharedSQLEventBroker(SQLEventBroker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _pragmas(connection: Any, _record: Any) -> None:
                cursor = connection.cursor()
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

            self.engine.dispose()  # connections opened before the listener go

    def publish(self, event: dict[str, Any]) -> None:
        try:
            super().publish(event)
        except Exception:
            logger.exception("event broker: could not store a %s event", event.get("event"))
