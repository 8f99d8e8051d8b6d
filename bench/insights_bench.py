"""Insights benchmark: how fast the analytics keep up, and how good the suggestions are. One JSON.

- ``consume``: Rasa-shaped events written into an SQL broker table (as Rasa's SQL broker
  writes them), read by the consumer into a fresh analytics store and labelled: events/s.
- ``dashboard``: a store holding ``--conversations`` (100,000) labelled conversations with
  their steps and failed questions; every dashboard route of the real web app (served on a
  port, called over HTTP with the API token) ``--calls`` times: p50/p95 per route and over all
  (target p95 <= 300 ms).
- ``clustering``: 10,000 failed questions (banking77's train split) encoded with the knowledge
  base's encoder and clustered as the miner does: seconds for each step.
- ``suggestions``: the held-out clusters of ``bench/insights_failed_questions.yml`` (written
  apart, never tuned on): does the suggestion name the right article, or ask for a draft when
  no article answers? (target precision >= 0.8). Also the clusters the miner forms from all of
  its questions at once: how many, how pure, how many questions they cover.
- ``accept_to_answer``: an accepted suggestion written into a copy of the articles; seconds
  until the article watcher's rebuild answers the first question with that article.

    make bench-insights            # about 5 minutes
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.benchout import report  # noqa: E402

HELD_OUT = ROOT / "bench" / "insights_failed_questions.yml"
ROUTES = (
    "/summary",
    "/timeseries",
    "/handoffs",
    "/funnel",
    "/dropoff",
    "/refusals",
    "/failed-questions",
    "/feedback",
    "/articles",
    "/channels",
    "/conversations?outcome=abandoned",
    "/conversations?tree=card_not_arrived&node=ordered_when&left=1",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


# ---------------------------------------------------------------------- consume


def synthetic_events(conversations: int, rng: random.Random) -> list[dict[str, Any]]:
    from assistant.insights.events import enrichment

    out: list[dict[str, Any]] = []
    start = time.time() - 3600
    for n in range(conversations):
        sender, t = f"bench-{n}", start + n * 0.01
        out += [
            {"sender_id": sender, "timestamp": t, "event": "action", "name": "action_session_start"},
            {"sender_id": sender, "timestamp": t, "event": "session_started"},
            {"sender_id": sender, "timestamp": t, "event": "action", "name": "action_listen"},
            {
                "sender_id": sender,
                "timestamp": t + 1,
                "event": "user",
                "text": "where is my card",
                "parse_data": {"intent": {"name": "ask_question", "confidence": 0.9}},
                "input_channel": "socketio",
                "metadata": {},
            },
            {"sender_id": sender, "timestamp": t + 1, "event": "action", "name": "action_kb_answer"},
            {"sender_id": sender, "timestamp": t + 1, "event": "bot", "text": "Cards arrive in 3-5 days."},
            {
                "sender_id": sender,
                "timestamp": t + 1,
                **enrichment("article_shown", article_id="card_arrival"),
            },
            {
                "sender_id": sender,
                "timestamp": t + 1,
                "event": "slot",
                "name": "stage",
                "value": "information_gathering",
            },
        ]
        if rng.random() < 0.5:
            out.append(
                {
                    "sender_id": sender,
                    "timestamp": t + 2,
                    "event": "user",
                    "text": "thanks",
                    "parse_data": {"intent": {"name": "thank"}},
                    "input_channel": "socketio",
                }
            )
    return out


def bench_consume(conversations: int, rng: random.Random) -> dict[str, Any]:
    from sqlalchemy import create_engine

    from assistant.insights.source import BROKER_EVENTS, Consumer, SQLBrokerSource
    from assistant.insights.store import InsightsStore

    with tempfile.TemporaryDirectory() as tmp:
        broker = f"sqlite:///{tmp}/events.db"
        engine = create_engine(broker)
        BROKER_EVENTS.metadata.create_all(engine)
        events = synthetic_events(conversations, rng)
        with engine.begin() as db:
            db.execute(
                BROKER_EVENTS.insert(), [{"sender_id": e["sender_id"], "data": json.dumps(e)} for e in events]
            )
        store = InsightsStore(f"sqlite:///{tmp}/insights.db")
        consumer = Consumer(SQLBrokerSource(broker), store)
        started = time.perf_counter()
        total = 0
        while True:
            polled = consumer.poll()
            total += polled.read
            if polled.read == 0 and polled.labelled == 0:
                break
        seconds = time.perf_counter() - started
        again = Consumer(SQLBrokerSource(broker), store).poll()  # a restarted consumer
        engine.dispose()
        store.dispose()
    return {
        "events": len(events),
        "conversations": conversations,
        "seconds": round(seconds, 2),
        "events_per_second": round(total / seconds, 1),
        "read_again_after_restart": again.new,
        "note": "read, stored once each and every conversation labelled, SQLite, one thread",
    }


# ---------------------------------------------------------------------- dashboard


def fill_store(url: str, conversations: int, rng: random.Random) -> None:
    """Labelled conversations with their steps and failed questions, written in bulk (what the
    consumer would have produced; the dashboard's queries read only these tables)."""
    from sqlalchemy import insert

    from assistant.insights import outcomes as oc
    from assistant.insights.store import ConversationRow, FailedRow, InsightsStore, StepRow

    store = InsightsStore(url)
    now = dt.datetime.now(dt.UTC)
    labels = [
        oc.RESOLVED_CONFIRMED,
        oc.RESOLVED_ASSUMED,
        oc.RESOLVED_ASSUMED,
        oc.ESCALATED,
        oc.ABANDONED,
        oc.NO_REQUEST,
        oc.TICKET,
    ]
    articles = [f"article_{i}" for i in range(80)]
    rows, steps, failed = [], [], []
    for n in range(conversations):
        started = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 29))
        label = rng.choice(labels)
        key = f"bench-{n}#1"
        channel = rng.choice(["socketio", "socketio", "rest", "telegram"])
        rows.append(
            dict(
                conversation=key,
                sender_id=f"bench-{n}",
                session=1,
                customer="",
                started=started,
                ended=started + dt.timedelta(minutes=3),
                channel=channel,
                test=False,
                label=label,
                where="",
                reason="customer_asked" if label == oc.ESCALATED else "",
                asked=label != oc.NO_REQUEST,
                durable=label.startswith("resolved"),
                provisional=False,
                topics=[],
                turns=4,
                dirty=False,
                labelled_at=now,
            )
        )
        base = dict(conversation=key, started=started, ts=started, test=False, channel=channel)
        steps.append({**base, "kind": "stage", "name": "introduction", "sub": "", "left": False})
        steps.append({**base, "kind": "article", "name": rng.choice(articles), "sub": "", "left": False})
        if rng.random() < 0.3:
            steps.append(
                {
                    **base,
                    "kind": "form",
                    "name": "transfer_form",
                    "sub": rng.choice(["payee", "amount"]),
                    "left": label == oc.ABANDONED,
                }
            )
        if rng.random() < 0.2:
            steps.append(
                {
                    **base,
                    "kind": "tree",
                    "name": "card_not_arrived",
                    "sub": "ordered_when",
                    "left": label == oc.ABANDONED,
                }
            )
        if label == oc.ESCALATED:
            steps.append(
                {**base, "kind": "handoff", "name": "customer_asked", "sub": "transaction", "left": False}
            )
        if rng.random() < 0.1:
            steps.append(
                {
                    **base,
                    "kind": "feedback",
                    "name": rng.choice(articles),
                    "sub": rng.choice(["up", "down"]),
                    "left": False,
                }
            )
        if rng.random() < 0.05:
            steps.append(
                {**base, "kind": "refusal", "name": "transfer_form", "sub": "over_limit", "left": False}
            )
        if label == oc.ABANDONED and rng.random() < 0.5:
            failed.append(
                dict(
                    conversation=key,
                    ts=started,
                    question=f"question {rng.randint(0, 2000)}",
                    how="declined",
                    article_id="",
                    test=False,
                    status="open",
                )
            )
    with store.engine.begin() as db:
        for table, batch in ((ConversationRow, rows), (StepRow, steps), (FailedRow, failed)):
            for i in range(0, len(batch), 20_000):
                db.execute(insert(table), batch[i : i + 20_000])
    store.dispose()


def bench_dashboard(conversations: int, calls: int, rng: random.Random) -> dict[str, Any]:
    from assistant.handoff.store import HandoffStore
    from assistant.insights.store import InsightsStore
    from assistant.settings import Settings
    from assistant.web.app import create_app
    from assistant.web.server import serve_in_thread

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/insights.db"
        started = time.perf_counter()
        fill_store(url, conversations, rng)
        fill_seconds = time.perf_counter() - started
        store = InsightsStore(url)
        app = create_app(
            Settings(api_token="bench"),
            HandoffStore(url),
            None,
            insights=store,
            name="insights_bench",  # type: ignore[arg-type]
        )
        timings: dict[str, list[float]] = {route: [] for route in ROUTES}
        port = free_port()
        stop = serve_in_thread(app, port)  # a real server on a real port, as the console calls it
        try:
            for _ in range(calls):
                for route in ROUTES:
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}/api/insights{route}",
                        headers={"Authorization": "Bearer bench"},
                    )
                    began = time.perf_counter()
                    with urllib.request.urlopen(request, timeout=60) as resp:
                        resp.read()
                        assert resp.status == 200, (route, resp.status)
                    timings[route].append((time.perf_counter() - began) * 1000)
        finally:
            stop()
        summary = store.summary(
            __import__("assistant.insights.store", fromlist=["Range"]).Range.last_days(30)
        )
        store.dispose()
    every = [t for values in timings.values() for t in values]
    return {
        "conversations": conversations,
        "counted_in_30_days": summary["conversations"],
        "fill_seconds": round(fill_seconds, 1),
        "calls_per_route": calls,
        "p95_ms": percentile(every, 0.95),
        "p50_ms": percentile(every, 0.5),
        "target_p95_ms": 300,
        "per_route_p95_ms": {route: percentile(values, 0.95) for route, values in timings.items()},
    }


# ---------------------------------------------------------------------- clustering and suggestions


def knowledge_base() -> Any:
    from assistant.kb.encoder import default_encoder
    from assistant.kb.live import LiveKnowledgeBase

    return LiveKnowledgeBase(ROOT / "kb_index", default_encoder(threads=1))


def bench_clustering(live: Any, n: int, rng: random.Random) -> dict[str, Any]:
    from assistant.content import InsightsSettings
    from assistant.insights.mining import cluster_vectors

    kb = live.get()
    texts = [
        r["text"]
        for r in csv.DictReader((ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv").open())
    ]
    rng.shuffle(texts)
    texts = (texts * (n // len(texts) + 1))[:n]
    started = time.perf_counter()
    vectors = np.asarray(kb.encoder.encode([kb.read(t) for t in texts]))
    encode = time.perf_counter() - started
    settings = InsightsSettings()
    started = time.perf_counter()
    labels = cluster_vectors(vectors, distance=settings.cluster_distance, min_size=settings.min_cluster_size)
    cluster = time.perf_counter() - started
    return {
        "questions": n,
        "encode_seconds": round(encode, 2),
        "cluster_seconds": round(cluster, 2),
        "clusters": int(labels.max() + 1) if len(labels) else 0,
        "note": "the miner clusters at most MAX_MINED (5,000) of the newest open questions a run",
    }


def bench_suggestions(live: Any) -> dict[str, Any]:
    from assistant.content import InsightsSettings
    from assistant.insights import mining

    kb = live.get()
    data = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))
    clusters = data["clusters"]
    failures = []
    right = 0
    for c in clusters:
        got = mining.suggest_for(kb, c["questions"])
        expected = c.get("article")
        ok = got.article_id == expected if expected else got.kind == mining.DRAFT_ARTICLE
        right += ok
        if not ok:
            failures.append(
                {
                    "expected": expected,
                    "suggested": got.article_id or "draft",
                    "nearest": got.nearest[:2],
                    "first_question": c["questions"][0],
                }
            )
    # the miner's own clusters over every held-out question at once
    questions = [(q, c.get("article")) for c in clusters for q in c["questions"]]
    settings = InsightsSettings()
    vectors = np.asarray(kb.encoder.encode([kb.read(q) for q, _ in questions]))
    labels = mining.cluster_vectors(
        vectors, distance=settings.cluster_distance, min_size=settings.min_cluster_size
    )
    formed: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        if lab >= 0:
            formed.setdefault(int(lab), []).append(i)
    pure = covered = named = 0
    for members in formed.values():
        truth = [questions[i][1] for i in members]
        majority = max(set(truth), key=truth.count)
        pure += truth.count(majority)
        covered += len(members)
        got = mining.suggest_for(kb, [questions[i][0] for i in members], vectors[members])
        named += (got.article_id == majority) if majority else got.kind == mining.DRAFT_ARTICLE
    return {
        "clusters": len(clusters),
        "questions": len(questions),
        "precision": round(right / len(clusters), 3),
        "target_precision": 0.8,
        "known_article_clusters": sum(1 for c in clusters if c.get("article")),
        "no_article_clusters": sum(1 for c in clusters if not c.get("article")),
        "failures": failures,
        "mined_together": {
            "clusters_formed": len(formed),
            "questions_covered": round(covered / len(questions), 3),
            "purity": round(pure / covered, 3) if covered else 0.0,
            "suggestion_precision": round(named / len(formed), 3) if formed else 0.0,
            "cluster_distance": settings.cluster_distance,
            "min_cluster_size": settings.min_cluster_size,
        },
    }


def bench_accept_to_answer(live: Any) -> dict[str, Any]:
    """Questions accepted into a copy of the articles: until the watcher's build answers them."""
    from assistant.kb.edit import add_questions
    from assistant.kb.live import LiveKnowledgeBase
    from assistant.kb.watch import ArticleWatcher

    data = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))
    cluster = next(c for c in data["clusters"] if c.get("article"))
    with tempfile.TemporaryDirectory() as tmp:
        source, index = Path(tmp) / "kb", Path(tmp) / "kb_index"
        shutil.copytree(ROOT / "data" / "kb", source)
        shutil.copytree(ROOT / "kb_index", index, symlinks=True)
        copy = LiveKnowledgeBase(index, live.encoder, check_every=0.0)
        watcher = ArticleWatcher(
            source,
            index,
            live.encoder,
            out_of_scope=ROOT / "data" / "calibration" / "out_of_scope.txt",
            vocabulary=ROOT / "data" / "vocabulary.yml",
            live=copy,
        ).start()
        question = cluster["questions"][0]
        before = copy.get().search(question)
        started = time.perf_counter()
        add_questions(source, cluster["article"], cluster["questions"])
        answered_at = None
        while time.perf_counter() - started < 120:
            result = copy.get().search(question)
            if (
                result.decision == "answer"
                and result.best is not None
                and result.best.id == cluster["article"]
            ):
                answered_at = time.perf_counter() - started
                break
            time.sleep(0.1)
        watcher.stop()
    return {
        "article": cluster["article"],
        "before": {"decision": before.decision, "best": before.best.id if before.best else None},
        "seconds": round(answered_at, 2) if answered_at is not None else None,
        "target_seconds": 5,
        "note": "the action server's article watcher and live knowledge base, in this process",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20, help="calls of each dashboard route")
    parser.add_argument("--consume-conversations", type=int, default=5_000)
    parser.add_argument("--cluster-questions", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the benchmark runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.conversations, args.calls, args.consume_conversations, args.cluster_questions = (
            2_000,
            3,
            300,
            500,
        )
    if not (ROOT / "kb_index" / "CURRENT").is_file():
        print("no knowledge-base index: run `make index`", file=sys.stderr)
        return 2
    rng = random.Random(17)
    started = time.perf_counter()
    live = knowledge_base()
    results: dict[str, Any] = {
        "benchmark": "insights",
        "consume": bench_consume(args.consume_conversations, rng),
        "dashboard": bench_dashboard(args.conversations, args.calls, rng),
        "clustering": bench_clustering(live, args.cluster_questions, rng),
        "suggestions": bench_suggestions(live),
        "accept_to_answer": bench_accept_to_answer(live),
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["threads"] = threading.active_count()
    results["median_route_p95_ms"] = statistics.median(results["dashboard"]["per_route_p95_ms"].values())
    report(results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
