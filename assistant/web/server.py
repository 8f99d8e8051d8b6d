"""Run the web app: ``assistant web``."""

from __future__ import annotations

import logging
from typing import Any

from assistant.analytics import Analytics
from assistant.content import load_content
from assistant.handoff.store import HandoffStore
from assistant.rasa_client import RasaClient
from assistant.settings import Settings
from assistant.staff.store import StaffStore
from assistant.web.app import create_app

logger = logging.getLogger(__name__)


def _knowledge_base(settings: Settings, content: Any) -> Any:
    """The console's article search: the same index the assistant answers from."""
    from assistant.kb.encoder import default_encoder
    from assistant.kb.live import LiveKnowledgeBase

    try:
        encoder = default_encoder(threads=settings.torch_threads)
        return LiveKnowledgeBase(settings.kb_index, encoder, content.kb)
    except (FileNotFoundError, OSError) as exc:
        logger.warning("article search is off in the console: %s", exc)
        return None


def _account(settings: Settings) -> Any:
    """The customers' account facts for the console (read-only), from the back office."""
    from assistant.account.facts import AccountFacts
    from assistant.account.words import load_account_words
    from assistant.backoffice import BackOffice

    return AccountFacts(BackOffice(settings.backoffice_url), load_account_words(settings.account_path))


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    content = load_content(settings.content_path)
    app = create_app(
        settings,
        HandoffStore(settings.database_url, redact=settings.redact_personal_data),
        RasaClient(settings.rasa_url, settings.rasa_token),
        staff=StaffStore(settings.database_url),
        kb=_knowledge_base(settings, content),
        analytics=Analytics(settings.database_url),
        account=_account(settings),
        handoff=content.handoff,
        watch_waits=True,
    )
    store, spool = app.ctx.handoffs, settings.handoff_spool

    @app.after_server_start
    async def drain_handoff_spool(app: Any) -> None:
        from assistant.handoff.recover import drain_forever

        if spool is not None:
            app.add_task(drain_forever(store, spool), name="handoff_spool")

    app.run(host=settings.web_host, port=settings.web_port, single_process=True, access_log=False)
