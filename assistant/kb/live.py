"""A knowledge base that follows the index on disk: a rebuilt index goes live without a restart."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from assistant.kb.encoder import Encoder
from assistant.kb.index import KBIndex, current_build, load_index
from assistant.kb.search import DecisionSettings, KnowledgeBase

logger = logging.getLogger(__name__)


class LiveKnowledgeBase:
    """Holds the current :class:`KnowledgeBase` and swaps it when ``CURRENT`` changes.

    The check is a ``stat`` at most every ``check_every`` seconds, made by whoever asks for the
    knowledge base. A build that fails to load is logged and the previous one keeps serving.

    ``encoder`` is the base model. A build made with an encoder tuned on the example questions
    (:mod:`assistant.kb.tune`) is served with that encoder, loaded from ``kb_index/encoders/``
    once and kept while builds use it.
    """

    def __init__(
        self,
        index_root: Path,
        encoder: Encoder,
        settings: DecisionSettings | None = None,
        *,
        check_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.index_root = Path(index_root)
        self.encoder = encoder
        self.settings = settings or DecisionSettings()
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._encoders: dict[str, Encoder] = {encoder.name: encoder}
        self._kb: KnowledgeBase | None = None
        self._build: Path | None = None
        self._checked = float("-inf")
        self.get()

    @property
    def build_id(self) -> str:
        return self._build.name if self._build else ""

    def get(self) -> KnowledgeBase:
        now = self._clock()
        if self._kb is None or now - self._checked >= self.check_every:
            with self._lock:
                self._checked = now
                build = current_build(self.index_root)
                if build is not None and build != self._build:
                    self._load(build)
        if self._kb is None:
            raise FileNotFoundError(f"no knowledge-base index in {self.index_root}: run `assistant kb build`")
        return self._kb

    def adopt(self, index: KBIndex) -> None:
        """Serve an index built in this process (it is already saved as the current build)."""
        with self._lock:
            self._kb = KnowledgeBase(index, self.encoder_for(index.model), self.settings)
            self._build = self.index_root / "builds" / index.build_id
            self._checked = self._clock()
        logger.info("knowledge base live: build %s, %d articles", index.build_id, len(index.articles))

    def _load(self, build: Path) -> None:
        try:
            index = load_index(self.index_root)
            kb = KnowledgeBase(index, self.encoder_for(index.model), self.settings)
        except Exception:  # keep serving the last good index whatever went wrong
            logger.exception("could not load knowledge-base build %s; keeping %s", build.name, self.build_id)
            return
        self._kb, self._build = kb, build
        logger.info("knowledge base live: build %s, %d articles", build.name, len(index.articles))

    def encoder_for(self, name: str) -> Encoder:
        """The encoder a build was made with: the base one, or a tuned one from the index."""
        if name not in self._encoders:
            from assistant.kb.tune import encoder_for

            threads = int(getattr(self.encoder, "threads", 1))
            self._encoders = {
                self.encoder.name: self.encoder,
                name: encoder_for(self.index_root, name, self.encoder, threads=threads),
            }
        return self._encoders[name]
