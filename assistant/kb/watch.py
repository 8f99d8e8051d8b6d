"""Rebuild the index when articles change, inside a running process that already holds the model.

The action server runs one :class:`ArticleWatcher` thread: it polls the article folder's file
times every ``interval`` seconds and, on a change, rebuilds incrementally (only changed articles
are re-embedded) and publishes the build; :class:`~assistant.kb.live.LiveKnowledgeBase` then
switches to it. A broken file is logged with file and line, and the last good index keeps serving.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from assistant.kb.articles import ArticleError, article_files
from assistant.kb.build import BuildReport, build_from_source
from assistant.kb.encoder import Encoder
from assistant.kb.live import LiveKnowledgeBase
from assistant.kb.spelling import general_english

logger = logging.getLogger(__name__)


def snapshot(folder: Path, *extra: Path) -> tuple[tuple[str, int, int], ...]:
    files = [*article_files(folder), *(p for p in extra if p.is_file())]
    stats = []
    for path in files:
        try:
            st = path.stat()
        except FileNotFoundError:  # deleted between listing and stat
            continue
        stats.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(sorted(stats))


class ArticleWatcher:
    def __init__(
        self,
        source: Path,
        index_root: Path,
        encoder: Encoder,
        *,
        out_of_scope: Path | None = None,
        vocabulary: Path | None = None,
        live: LiveKnowledgeBase | None = None,
        interval: float = 0.5,
    ):
        self.source = Path(source)
        self.index_root = Path(index_root)
        self.encoder = encoder
        self.out_of_scope = out_of_scope
        self.vocabulary = vocabulary
        self.live = live
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = self._snapshot()
        self.last_error: ArticleError | None = None

    def _snapshot(self) -> tuple[tuple[str, int, int], ...]:
        extra = tuple(p for p in (self.out_of_scope, self.vocabulary) if p)
        return snapshot(self.source, *extra)

    def check(self) -> bool:
        """Rebuild if anything changed since the last look. True when a new build went live."""
        current = self._snapshot()
        if current == self._seen:
            return False
        self._seen = current
        try:
            # First publish the new text with the previous calibration (seconds matter to an
            # editor watching the chat), then refit the calibration and publish again.
            report = self._build(calibrate=False)
            self._build(calibrate=True)
        except ArticleError as exc:  # an article or the vocabulary
            self.last_error = exc
            logger.error("articles changed but are broken; the last good index keeps serving:\n%s", exc)
            return False
        self.last_error = None
        logger.info(
            "articles changed: build %s live (%d re-embedded passages, %.2fs)",
            report.build_id,
            report.encoded_passages,
            report.seconds,
        )
        return True

    def _build(self, *, calibrate: bool) -> BuildReport:
        previous = None
        if self.live is not None:
            try:
                previous = self.live.get().index
            except FileNotFoundError:
                previous = None
        encoder = self.encoder
        if previous is not None and self.live is not None:
            encoder = self.live.encoder_for(previous.model)  # keep the (tuned) encoder of the live build
        report = build_from_source(
            self.source,
            self.index_root,
            lambda: encoder,
            out_of_scope=self.out_of_scope,
            vocabulary=self.vocabulary,
            calibrate=calibrate,
            previous=previous,
        )
        if self.live is not None and report.index is not None:
            self.live.adopt(report.index)
        return report

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # never let the watcher die; try again on the next change
                logger.exception("rebuilding the knowledge base failed")

    def start(self) -> ArticleWatcher:
        from assistant.kb.passages import spacy_sentences

        spacy_sentences("Load the sentence splitter now, not on the first edit.")
        general_english()  # and the spelling dictionary
        self._thread = threading.Thread(target=self._run, name="kb-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
