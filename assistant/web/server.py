"""Run the web app: ``assistant web``."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

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


def start_insights(
    settings: Settings, store: Any, miner: Any, stopping: threading.Event
) -> list[threading.Thread]:
    """The analytics consumer (Rasa's broker into the store, labelling as it goes) and the miner
    of failed questions, each in its own thread: neither ever runs on the event loop."""
    from assistant.insights.source import consumer_for

    threads = [
        threading.Thread(
            target=consumer_for(settings.broker_url, store).run,
            args=(stopping,),
            name="insights-consumer",
            daemon=True,
        )
    ]
    if miner is not None:
        threads.append(
            threading.Thread(target=miner.run, args=(stopping,), name="insights-miner", daemon=True)
        )
    for thread in threads:
        thread.start()
    return threads


def serve(settings: Settings) -> None:
    from assistant.insights.mining import Miner
    from assistant.insights.store import InsightsStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    content = load_content(settings.content_path)
    handoffs = HandoffStore(settings.database_url, redact=settings.redact_personal_data)
    kb = _knowledge_base(settings, content)
    insights = InsightsStore(
        settings.analytics_url,
        settings=content.insights,
        handoffs=handoffs,
        traffic=settings.traffic,
        redact=settings.redact_personal_data,
    )
    miner = Miner(insights, kb, settings.kb_source, handoffs=handoffs) if kb is not None else None
    app = create_app(
        settings,
        handoffs,
        RasaClient(settings.rasa_url, settings.rasa_token),
        staff=StaffStore(settings.database_url),
        kb=kb,
        insights=insights,
        miner=miner,
        account=_account(settings),
        handoff=content.handoff,
        watch_waits=True,
    )
    store, spool = app.ctx.handoffs, settings.handoff_spool
    stopping = threading.Event()
    if settings.broker_url:
        start_insights(settings, insights, miner, stopping)

    @app.after_server_start
    async def drain_handoff_spool(app: Any) -> None:
        from assistant.handoff.recover import drain_forever

        if spool is not None:
            app.add_task(drain_forever(store, spool), name="handoff_spool")

    app.run(host=settings.web_host, port=settings.web_port, single_process=True, access_log=False)


def serve_in_thread(app: Any, port: int) -> Callable[[], None]:
    """The app on a real port in a thread of its own (its own event loop); returns stop()."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
            )
            loop.run_until_complete(server.startup())
            loop.run_until_complete(server.before_start())
            loop.run_until_complete(server.after_start())
        except BaseException as exc:  # reported by the test, not lost in the thread
            failed.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.before_stop())
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.run_until_complete(server.after_stop())

    thread = threading.Thread(target=run, name="insights-web", daemon=True)
    thread.start()
    if not ready.wait(30) or failed:
        raise RuntimeError(f"the web app did not start on port {port}: {failed}")

    def stop() -> None:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)

    return stop
