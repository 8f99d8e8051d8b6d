"""Run the web app: ``assistant web``."""

from __future__ import annotations

import logging

from assistant.analytics import Analytics
from assistant.handoff.store import HandoffStore
from assistant.rasa_client import RasaClient
from assistant.settings import Settings
from assistant.web.app import create_app


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(
        settings,
        HandoffStore(settings.database_url, redact=settings.redact_personal_data),
        RasaClient(settings.rasa_url, settings.rasa_token),
        analytics=Analytics(settings.database_url),
    )
    app.run(host=settings.web_host, port=settings.web_port, single_process=True, access_log=False)
