"""Failed questions into suggestions an editor accepts in one click; agents' answers into drafts.

1. **Clustering.** The open failed questions (declined; clarified, then abandoned; rated thumbs
   down; followed by a request for a person) are embedded with the knowledge base's own encoder
   and clustered with scikit-learn (complete linkage: every two questions of a cluster within
   ``cluster_distance``; at least ``min_cluster_size`` of them), the newest ``MAX_MINED`` at a
   time. Each run matches new clusters to the suggestions already made (by shared questions),
   so a suggestion keeps its id while it grows.
2. **Suggestion.** The cluster's centre (the mean of its questions' vectors) is ranked by the
   knowledge base with the questions' words; when the first article's fused score reaches
   ``ATTACH_SCORE``: "add these as example questions to article X"; otherwise "no article
   answers this: draft one". Questions that are already another article's examples are shown as conflicts and
   never written.
3. **Accepting** writes the questions into the article's front matter (:mod:`assistant.kb.edit`),
   where the action server's article watcher rebuilds the index within seconds; who accepted,
   when and what is recorded. Rejected suggestions keep their questions out of later clusters;
   a suggestion whose questions all went elsewhere becomes ``stale``.
4. **Content gaps.** Handoffs an agent closed as resolved pair what the customer asked with what
   the agent replied: a draft article (title, a first paragraph from the agent's words, the
   customer's questions as examples) for an editor to finish and publish.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import JSON, DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from assistant.db import as_utc, utc_now
from assistant.insights.store import Base, FailedRow, InsightsStore

logger = logging.getLogger(__name__)

ADD_EXAMPLES = "add_examples"
DRAFT_ARTICLE = "draft_article"
OPEN, ACCEPTED, REJECTED, STALE = "open", "accepted", "rejected", "stale"
# fused ranking score of the cluster centre's first article (assistant.kb.ranking): chosen with
# bench/tune_mining.py on banking77's train split and clinc150's val split
ATTACH_SCORE = 0.5
MAX_EXAMPLES_SHOWN = 12
MAX_MINED = 5000  # the most recent open failed questions clustered in one run (memory ~ n²)
PERSON_WORDS = re.compile(r"\b(agent|person|human|someone|representative)\b", re.I)


class SuggestionRow(Base):
    __tablename__ = "insight_suggestions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    article_id: Mapped[str] = mapped_column(String(128), default="")
    members: Mapped[list[int]] = mapped_column(JSON, default=list)  # insight_failed ids
    examples: Mapped[list[str]] = mapped_column(JSON, default=list)
    nearest: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    conflicts: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DraftRow(Base):
    __tablename__ = "insight_drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    nearest: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    article_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ChangeRow(Base):
    """Who changed the knowledge base from the console, when, and how."""

    __tablename__ = "insight_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)
    who: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    article_id: Mapped[str] = mapped_column(String(128))
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    file: Mapped[str] = mapped_column(String(500), default="")
    suggestion_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    draft_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class NotFound(LookupError):
    pass


class Conflicting(Exception):
    def __init__(self, message: str, conflicts: list[dict[str, str]]):
        super().__init__(message)
        self.conflicts = conflicts


class NotOpen(Exception):
    pass


@dataclass
class MineReport:
    questions: int = 0
    clusters: int = 0
    suggestions_open: int = 0
    encode_seconds: float = 0.0
    cluster_seconds: float = 0.0
    suggest_seconds: float = 0.0
    skipped: bool = False


def cluster_vectors(vectors: np.ndarray, *, distance: float, min_size: int) -> np.ndarray:
    """Cluster labels (-1: in no cluster of ``min_size`` or more) for unit-length rows.

    Complete linkage by cosine distance: every two questions of a cluster are within
    ``distance`` of each other, so a cluster never drifts from one need to the next (DBSCAN's
    chains did: at the same purity it covered half as many questions, bench/tune_mining.py)."""
    from sklearn.cluster import AgglomerativeClustering

    if len(vectors) < max(2, min_size):
        return np.full(len(vectors), -1)
    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="complete"
    ).fit_predict(vectors)
    sizes = np.bincount(labels)
    return np.where(sizes[labels] >= min_size, labels, -1)


@dataclass
class Suggested:
    kind: str
    article_id: str
    nearest: list[dict[str, Any]] = field(default_factory=list)


def suggest_for(kb: Any, questions: list[str], vectors: np.ndarray | None = None) -> Suggested:
    """What a cluster of failed questions asks for: the articles nearest the cluster's centre
    (the mean of its questions' vectors, ranked with their words together), and the first one
    when its fused score reaches ``ATTACH_SCORE``, else a draft."""
    if not questions:
        return Suggested(DRAFT_ARTICLE, "")
    read = [kb.read(q) for q in questions]
    if vectors is None:
        vectors = np.asarray(kb.encoder.encode(read))
    centre = np.mean(vectors, axis=0)
    centre = centre / (np.linalg.norm(centre) or 1.0)
    hits = kb.rank_vector(centre.astype(np.float32), " ".join(read), limit=3)
    nearest = [{"id": h.id, "title": h.title, "score": round(float(h.score), 4)} for h in hits]
    if hits and hits[0].score >= ATTACH_SCORE:
        return Suggested(ADD_EXAMPLES, hits[0].id, nearest)
    return Suggested(DRAFT_ARTICLE, "", nearest)


class Miner:
    """Clusters failed questions into suggestions; applies what editors accept."""

    def __init__(self, store: InsightsStore, kb: Any, source: Path, *, handoffs: Any = None):
        self.store = store
        self.kb = kb  # a LiveKnowledgeBase (get() -> KnowledgeBase)
        self.source = Path(source)
        self.handoffs = handoffs
        self.settings = store.settings
        self._session = store._session
        self._vectors: dict[int, np.ndarray] = {}
        self._vectors_build = ""
        self._last: tuple[int, int, str] | None = None
        self._lock = threading.Lock()  # the suggestions' state: mining's update, accept, reject
        self._mining = threading.Lock()

    # ------------------------------------------------------------------ clustering

    def mine(self, *, force: bool = False, include_test: bool | None = None) -> MineReport:
        """Cluster the open failed questions (test traffic too when this deployment is a test)."""
        report = MineReport()
        if include_test is None:
            include_test = self.store.traffic == "test"
        with self._mining:  # encoding and clustering: accept and reject need not wait for them
            rows = self.store.open_failed(MAX_MINED, include_test=include_test)
            kb = self.kb.get()
            build = getattr(self.kb, "build_id", "")
            state = (len(rows), max((r.id for r in rows), default=0), build)
            if not force and state == self._last:
                report.skipped = True
                return report
            report.questions = len(rows)
            if build != self._vectors_build:  # another encoder may read them differently
                self._vectors, self._vectors_build = {}, build
            self._vectors = {r.id: self._vectors[r.id] for r in rows if r.id in self._vectors}
            started = time.perf_counter()
            missing = [r for r in rows if r.id not in self._vectors]
            if missing:
                vectors = kb.encoder.encode([kb.read(r.question) for r in missing])
                for r, v in zip(missing, vectors, strict=True):
                    self._vectors[r.id] = np.asarray(v, dtype=np.float32)
            report.encode_seconds = round(time.perf_counter() - started, 3)
            started = time.perf_counter()
            labels = (
                cluster_vectors(
                    np.stack([self._vectors[r.id] for r in rows]),
                    distance=self.settings.cluster_distance,
                    min_size=self.settings.min_cluster_size,
                )
                if rows
                else np.array([])
            )
            report.cluster_seconds = round(time.perf_counter() - started, 3)
            clusters: dict[int, list[FailedRow]] = defaultdict(list)
            for row, lab in zip(rows, labels, strict=True):
                if lab >= 0:
                    clusters[int(lab)].append(row)
            report.clusters = len(clusters)
            started = time.perf_counter()
            with self._lock:
                self._update_suggestions(kb, list(clusters.values()))
            report.suggest_seconds = round(time.perf_counter() - started, 3)
            self._last = state
            with self._session() as s:
                report.suggestions_open = len(
                    s.scalars(select(SuggestionRow.id).where(SuggestionRow.status == OPEN)).all()
                )
        return report

    def _update_suggestions(self, kb: Any, clusters: list[list[FailedRow]]) -> None:
        from assistant.kb.articles import load_articles
        from assistant.kb.edit import conflicts_for

        articles: list[Any] | None
        try:
            articles = load_articles(self.source)
        except Exception:
            logger.exception("articles unreadable: suggestions keep their conflicts as they were")
            articles = None
        now = utc_now()
        with self._session.begin() as s:
            open_rows = list(s.scalars(select(SuggestionRow).where(SuggestionRow.status == OPEN)))
            claimed: set[int] = set()
            still_open = set(
                s.scalars(
                    select(FailedRow.id).where(
                        FailedRow.id.in_([m.id for c in clusters for m in c]), FailedRow.status == "open"
                    )
                )
            )
            for found in clusters:
                members = [m for m in found if m.id in still_open]  # accepted or rejected meanwhile
                if len(members) < self.settings.min_cluster_size:
                    continue
                ids = {m.id for m in members}
                match = max(
                    (o for o in open_rows if o.id not in claimed and ids & set(o.members or [])),
                    key=lambda o: len(ids & set(o.members or [])),
                    default=None,
                )
                questions = _distinct([m.question for m in members])
                suggested = suggest_for(kb, questions, np.stack([self._vectors[m.id] for m in members]))
                conflicts = (
                    [c.to_dict() for c in conflicts_for(questions, suggested.article_id, articles)]
                    if articles is not None
                    else None
                )
                if match is None:
                    match = SuggestionRow(created_at=now, status=OPEN)
                    s.add(match)
                    open_rows.append(match)
                match.kind, match.article_id = suggested.kind, suggested.article_id
                match.members, match.examples = sorted(ids), questions[:MAX_EXAMPLES_SHOWN]
                match.nearest = suggested.nearest
                if conflicts is not None:
                    match.conflicts = conflicts
                match.updated_at = now
                s.flush()
                claimed.add(match.id)
                s.execute(update(FailedRow).where(FailedRow.id.in_(ids)).values(suggestion_id=match.id))
            for o in open_rows:
                if o.id not in claimed:
                    o.status, o.updated_at = STALE, now

    # ------------------------------------------------------------------ reading

    def suggestions(self, status: str = OPEN, limit: int = 200) -> list[dict[str, Any]]:
        titles = self._titles()
        with self._session() as s:
            q = select(SuggestionRow).order_by(SuggestionRow.updated_at.desc()).limit(limit)
            if status != "all":
                q = q.where(SuggestionRow.status == status)
            rows = s.scalars(q).all()
        return [self._suggestion_dict(r, titles) for r in sorted(rows, key=lambda r: -len(r.members or []))]

    def _suggestion_dict(self, r: SuggestionRow, titles: dict[str, str]) -> dict[str, Any]:
        return {
            "id": r.id,
            "size": len(r.members or []),
            "status": r.status,
            "kind": r.kind,
            "article_id": r.article_id or None,
            "article_title": titles.get(r.article_id, "") if r.article_id else "",
            "examples": list(r.examples or []),
            "nearest": list(r.nearest or []),
            "conflicts": list(r.conflicts or []),
            "draft": (
                {"title": (r.examples or [""])[0][:120], "body": "", "questions": list(r.examples or [])}
                if r.kind == DRAFT_ARTICLE
                else None
            ),
            "updated_at": as_utc(r.updated_at).isoformat(),
            "decided_by": r.decided_by,
        }

    def _titles(self) -> dict[str, str]:
        try:
            return {a.id: a.title for a in self.kb.get().index.articles.values()}
        except Exception:
            return {}

    # ------------------------------------------------------------------ deciding

    def accept(
        self,
        suggestion_id: int,
        who: str,
        *,
        article_id: str | None = None,
        questions: list[str] | None = None,
    ) -> dict[str, Any]:
        from assistant.kb.edit import EditConflict, add_questions

        with self._lock, self._session.begin() as s:
            row = _open(s, SuggestionRow, suggestion_id)
            target = article_id or row.article_id
            chosen = questions if questions is not None else list(row.examples or [])
            if not target:
                raise ValueError("choose the article these questions belong to, or publish a draft")
            if not [q for q in chosen if q.strip()]:
                raise ValueError("choose at least one question")
            before = _article_text(self.source, target)
            try:
                path, written = add_questions(self.source, target, chosen)
            except EditConflict as exc:
                raise Conflicting(str(exc), [c.to_dict() for c in exc.conflicts]) from exc
            try:
                now = utc_now()
                row.status, row.decided_by, row.decided_at, row.article_id = ACCEPTED, who, now, target
                s.add(_change(who, "examples_added", target, written, path, now, suggestion_id=row.id))
                s.execute(
                    update(FailedRow).where(FailedRow.id.in_(list(row.members or []))).values(status=ACCEPTED)
                )
                s.flush()
            except Exception:  # not recorded: the article goes back to what it was
                if before is not None:
                    path.write_text(before, encoding="utf-8")
                raise
        return {"status": ACCEPTED, "article_id": target, "written": written, "file": str(path)}

    def reject(self, suggestion_id: int, who: str) -> dict[str, Any]:
        with self._lock, self._session.begin() as s:
            row = _open(s, SuggestionRow, suggestion_id)
            row.status, row.decided_by, row.decided_at = REJECTED, who, utc_now()
            s.execute(
                update(FailedRow).where(FailedRow.id.in_(list(row.members or []))).values(status=REJECTED)
            )
        return {"status": REJECTED}

    def changes(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(select(ChangeRow).order_by(ChangeRow.id.desc()).limit(limit)).all()
        return [
            {
                "ts": as_utc(r.ts).isoformat(),
                "who": r.who,
                "action": r.action,
                "article_id": r.article_id,
                "questions": list(r.questions or []),
                "file": r.file,
                "suggestion_id": r.suggestion_id,
                "draft_id": r.draft_id,
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ content gaps

    def draft_from_handoffs(self, days: int = 30) -> int:
        """Drafts for handoffs closed as resolved that have none yet; returns how many were made."""
        if self.handoffs is None:
            return 0
        since = utc_now() - dt.timedelta(days=days)
        made = 0
        with self._session() as s:
            have = set(s.scalars(select(DraftRow.handoff_id)))
        for record in self.handoffs.closed_resolved(since):
            if record.id in have:
                continue
            draft = draft_from_transcript(record.transcript or [])
            if draft is None:
                continue
            title, body, questions = draft
            nearest: list[dict[str, Any]] = []
            try:
                nearest = suggest_for(self.kb.get(), questions[:3]).nearest
            except Exception:
                logger.exception("could not rank a draft's questions")
            with self._session.begin() as s:
                s.add(
                    DraftRow(
                        handoff_id=record.id, title=title, body=body, questions=questions, nearest=nearest
                    )
                )
            made += 1
        return made

    def drafts(self, status: str = OPEN) -> list[dict[str, Any]]:
        with self._session() as s:
            q = select(DraftRow).order_by(DraftRow.id.desc()).limit(200)
            if status != "all":
                q = q.where(DraftRow.status == status)
            rows = s.scalars(q).all()
        return [
            {
                "id": r.id,
                "handoff_id": r.handoff_id,
                "title": r.title,
                "body": r.body,
                "questions": list(r.questions or []),
                "nearest": list(r.nearest or []),
                "status": r.status,
                "article_id": r.article_id or None,
                "created_at": as_utc(r.created_at).isoformat(),
            }
            for r in rows
        ]

    def publish_draft(
        self,
        draft_id: int,
        who: str,
        *,
        article_id: str,
        title: str,
        body: str,
        questions: list[str],
        folder: str,
    ) -> dict[str, Any]:
        from assistant.kb.edit import EditConflict, folders, new_article

        with self._lock, self._session.begin() as s:
            row = _open(s, DraftRow, draft_id)
            categories = folders(self.source)
            if folder not in categories:
                raise ValueError(f"folder is one of {', '.join(sorted(categories))}")
            try:
                path = new_article(
                    self.source, folder, article_id, title, categories[folder], body, questions
                )
            except EditConflict as exc:
                raise Conflicting(str(exc), [c.to_dict() for c in exc.conflicts]) from exc
            try:
                now = utc_now()
                row.status, row.article_id, row.decided_by, row.decided_at = ACCEPTED, article_id, who, now
                s.add(
                    _change(who, "article_published", article_id, list(questions), path, now, draft_id=row.id)
                )
                s.flush()
            except Exception:  # not recorded: no new article either
                path.unlink(missing_ok=True)
                raise
        return {"article_id": article_id, "file": str(path)}

    def reject_draft(self, draft_id: int, who: str) -> dict[str, Any]:
        with self._lock, self._session.begin() as s:
            row = _open(s, DraftRow, draft_id)
            row.status, row.decided_by, row.decided_at = REJECTED, who, utc_now()
        return {"status": REJECTED}

    def run(self, stopping: threading.Event) -> None:
        """Mine whenever new failed questions arrived (checked every ``mine_every_seconds``)."""
        rounds = 0
        while not stopping.wait(self.settings.mine_every_seconds):
            try:
                self.mine()
                if rounds % 12 == 0:
                    self.draft_from_handoffs()
                rounds += 1
            except Exception:
                logger.exception("mining failed questions failed; retrying")


def _open(s: Any, cls: Any, row_id: int) -> Any:
    """The open suggestion or draft ``row_id``; NotFound or NotOpen otherwise."""
    what = "suggestion" if cls is SuggestionRow else "draft"
    row = s.get(cls, row_id)
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    if row.status != OPEN:
        raise NotOpen(f"{what} {row_id} is {row.status}")
    return row


def _change(
    who: str, action: str, article_id: str, questions: list[str], path: Path, now: dt.datetime, **ids: int
) -> ChangeRow:
    return ChangeRow(
        ts=now, who=who, action=action, article_id=article_id, questions=questions, file=str(path), **ids
    )


def _article_text(source: Path, article_id: str) -> str | None:
    """An article file's text as it is now (to put back if a change cannot be recorded)."""
    from assistant.kb.articles import load_articles

    try:
        found = next((a for a in load_articles(source) if a.id == article_id), None)
        return Path(found.source).read_text(encoding="utf-8") if found else None
    except Exception:
        return None


def _distinct(questions: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for q in questions:
        key = " ".join(q.casefold().split())
        if key not in seen:
            seen.add(key)
            out.append(q)
    return out


SKIP_INTENTS = {
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "thank",
    "request_human",
    "choose",
    "leave_message",
    "keep_waiting",
    "cancel",
}
GREETING = re.compile(r"^(hi|hello|hey|thanks|thank you)[^.!?]*[.!?]\s*", re.I)


def draft_from_transcript(transcript: list[dict[str, Any]]) -> tuple[str, str, list[str]] | None:
    """(title, first paragraph, questions) from a handoff's transcript, or None without both a
    customer question and an agent's answer."""
    questions: list[str] = []
    answers: list[str] = []
    for turn in transcript:
        role, text = turn.get("role"), " ".join(str(turn.get("text") or "").split())
        if not text:
            continue
        if role == "user" and not answers:
            if turn.get("intent") in SKIP_INTENTS or text.startswith("/") or PERSON_WORDS.search(text):
                continue
            if len(text) >= 8:
                questions.append(text[:300])
        elif role == "agent":
            answers.append(text)
    if not questions or not answers:
        return None
    body = " ".join(GREETING.sub("", a) for a in answers).strip()
    if len(body) < 20:
        return None
    title = questions[-1].rstrip("?.! ")[:120]
    title = title[:1].upper() + title[1:]
    return title, body[:2000], _distinct(questions)[-5:]
