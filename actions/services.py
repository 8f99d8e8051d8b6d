"""The heavy objects the actions share: built once per process and injected.

``python -m actions`` builds them at start-up and passes them to each action. When the actions
run under ``rasa run actions`` instead, the first action to need them builds them from the
environment.
"""

from __future__ import annotations

import logging
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from assistant.account.facts import AccountFacts
from assistant.backoffice import BackOffice
from assistant.content import BotContent, load_content
from assistant.conversation.forms import FormSpec
from assistant.guided.catalog import Catalog
from assistant.guided.recommend import CaseBasedRecommender
from assistant.guided.trees import TreeSet
from assistant.handoff.service import HandoffService
from assistant.handoff.store import HandoffStore
from assistant.insights.events import enrichment
from assistant.insights.store import InsightsStore
from assistant.settings import Settings
from assistant.staff.store import StaffStore

logger = logging.getLogger(__name__)

# What the running action recorded for analytics: Rasa events the action server adds to the
# action's own events (actions.observe.ObservingExecutor), so they travel in Rasa's stream.
RECORDED: ContextVar[list[dict[str, Any]] | None] = ContextVar("recorded", default=None)


@dataclass
class Services:
    settings: Settings
    content: BotContent
    kb: Any  # assistant.kb.live.LiveKnowledgeBase (or anything with .get() -> KnowledgeBase)
    handoffs: HandoffStore
    encoder: Any = None
    trees: TreeSet | None = None
    catalog: Catalog | None = None
    backoffice: BackOffice | None = None
    analytics: InsightsStore | None = None  # what the analytics know (top tasks, offers seen)
    staff: StaffStore | None = None  # who is online to take a handoff
    forms: FormSpec | None = None  # what customers may say in the transaction forms
    account: AccountFacts | None = None  # answers from the signed-in customer's own account

    @property
    def handoff_service(self) -> HandoffService:
        """Where a queued customer stands, computed as the web app and the widget do. Without a
        Rasa client: the actions answer Rasa with events rather than calling it."""
        return HandoffService(self.handoffs, self.content.handoff)

    @property
    def recommender(self) -> CaseBasedRecommender:
        if self.catalog is None:
            raise RuntimeError("no product catalog loaded")
        return CaseBasedRecommender(self.catalog)

    def button(self, key: str, **entities: str) -> dict[str, str]:
        """A button with the editor's title (data/assistant.yml ``buttons:``)."""
        return self.content.button(key, **entities)

    def record(self, conversation_id: str, kind: str, **detail: Any) -> None:
        """Tell analytics what just happened: an enrichment event returned with the running
        action's events, into Rasa's stream. Never lets recording break a conversation. With the
        redaction option on, what the customer typed is stored without card numbers, contact
        details, amounts or card digits."""
        if self.settings.redact_personal_data:
            from assistant.handoff.redact import redact_account_text

            detail = {k: redact_account_text(v) if isinstance(v, str) else v for k, v in detail.items()}
        try:
            event = enrichment(kind, **detail)
        except (TypeError, ValueError):
            logger.exception("could not record %s", kind)
            return
        recorded = RECORDED.get()
        if recorded is not None:
            recorded.append(event)
        else:  # outside an action run (a tool, a test): straight into the store
            logger.debug("recorded %s outside an action run for %s", kind, conversation_id)
            if self.analytics is not None:
                import uuid

                try:
                    self.analytics.add_direct(conversation_id, kind, uuid.uuid4().hex, **detail)
                except Exception:
                    logger.exception("could not record %s", kind)


def build_services(settings: Settings) -> Services:
    from assistant.account.words import load_account_words
    from assistant.conversation.forms import load_forms
    from assistant.guided.answers import load_typed_answers
    from assistant.guided.catalog import load_catalog
    from assistant.guided.trees import load_trees
    from assistant.kb.articles import load_articles
    from assistant.kb.encoder import default_encoder
    from assistant.kb.live import LiveKnowledgeBase

    content = load_content(settings.content_path)
    encoder = default_encoder(threads=settings.torch_threads)
    kb = LiveKnowledgeBase(settings.kb_index, encoder, content.kb)
    article_ids = {a.id for a in load_articles(settings.kb_source)}
    backoffice = BackOffice(settings.backoffice_url)
    if backoffice.seed_demo():
        logger.info("seeded the demo back office at %s", settings.backoffice_url)
    trees = load_trees(settings.trees_dir, article_ids)
    catalog = load_catalog(settings.products_path, settings.cases_path)
    answers = load_typed_answers(settings.typed_answers_path, trees, catalog)
    words = load_account_words(settings.account_path, article_ids, set(trees.trees))
    return Services(
        settings,
        content,
        kb,
        HandoffStore(settings.database_url, redact=settings.redact_personal_data),
        encoder,
        trees=trees.with_answers(answers),
        catalog=catalog.with_answers(answers),
        backoffice=backoffice,
        analytics=InsightsStore(settings.analytics_url, settings=content.insights, traffic=settings.traffic),
        staff=StaffStore(settings.database_url),
        forms=load_forms(settings.forms_path),
        account=AccountFacts(backoffice, words),
    )


_lock = threading.Lock()
_default: Services | None = None


def default_services() -> Services:
    global _default
    with _lock:
        if _default is None:
            _default = build_services(Settings.from_env())
        return _default


class ServiceAction:
    """Mixin: an action that receives :class:`Services`, or builds the default ones on first use."""

    def __init__(self, services: Services | None = None):
        self._services = services

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = default_services()
        return self._services
