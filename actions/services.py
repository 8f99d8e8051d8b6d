"""The heavy objects the actions share: built once per process and injected.

``python -m actions`` builds them at start-up and passes them to each action. When the actions
run under ``rasa run actions`` instead, the first action to need them builds them from the
environment.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from assistant.content import BotContent, load_content
from assistant.handoff.store import HandoffStore
from assistant.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    content: BotContent
    kb: Any  # assistant.kb.live.LiveKnowledgeBase (or anything with .get() -> KnowledgeBase)
    handoffs: HandoffStore
    encoder: Any = None


def build_services(settings: Settings) -> Services:
    from assistant.kb.encoder import SentenceTransformerEncoder
    from assistant.kb.live import LiveKnowledgeBase

    content = load_content(settings.content_path)
    encoder = SentenceTransformerEncoder(threads=settings.torch_threads)
    kb = LiveKnowledgeBase(settings.kb_index, encoder, content.kb)
    return Services(settings, content, kb, HandoffStore(settings.database_url), encoder)


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
