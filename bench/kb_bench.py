"""Knowledge-base benchmark: ``make bench-kb`` prints one JSON object.

Tuning data is train/val only; every accuracy figure is on BANKING77's test split and CLINC150's
``oos_test``, which nothing here was fitted on.

- ``banking77_editor_accuracy``: the demo articles with 10 example questions per topic drawn
  from train.csv (fixed seed); top-1 article on test.csv.
- ``banking77_full_accuracy``: the same articles with every train.csv question.
- ``oos_*`` / ``inscope_*``: decisions of the editor-mode knowledge base on test.csv mixed with
  CLINC150 oos_test.
- ``question_p50_ms`` / ``question_p95_ms``: one question end to end (encode, search, fusion,
  calibration) on the demo index, one thread.
- ``search_1m_*``, ``build_1m_seconds``, ``index_1m_mb``: HNSW over 1,000,000 synthetic passages
  (real passage vectors, mixed and jittered), recall@10 against exact search.
- ``edit_to_live_seconds``: a real action server; one article is edited, and the time until the
  server answers with the new text is measured.
- ``rasa_*``: Rasa's DIET trained on the same examples (``bench/rasa_baseline.py``, in the
  Rasa virtualenv).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.benchout import report
from assistant.kb.articles import Article, load_articles, parse_article
from assistant.kb.calibrate import read_out_of_scope
from assistant.kb.encoder import Encoder, SentenceTransformerEncoder
from assistant.kb.index import HNSW_EF_SEARCH, build_index, make_faiss_index
from assistant.kb.search import ANSWER, DECLINE, KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT.parent / "shared" / "datasets"
SEED = 77


def banking77(split: str) -> list[tuple[str, str]]:
    with (DATASETS / "banking77" / f"{split}.csv").open(encoding="utf-8") as f:
        return [(r["text"].strip(), r["category"]) for r in csv.DictReader(f)]


def clinc(split: str) -> list[str]:
    data = json.loads((DATASETS / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return [text for text, _ in data[split]]


def with_questions(articles: list[Article], questions: dict[str, list[str]]) -> list[Article]:
    """The articles with their example questions replaced (topics without any keep none)."""
    return [replace(a, questions=tuple(questions.get(a.id, ()))) for a in articles]


def editor_questions(train: list[tuple[str, str]], per_topic: int = 10) -> dict[str, list[str]]:
    by_topic: dict[str, list[str]] = defaultdict(list)
    for text, topic in train:
        by_topic[topic].append(text)
    rng = random.Random(SEED)
    return {t: rng.sample(sorted(set(qs)), per_topic) for t, qs in sorted(by_topic.items())}


def all_questions(train: list[tuple[str, str]]) -> dict[str, list[str]]:
    by_topic: dict[str, list[str]] = defaultdict(list)
    for text, topic in train:
        by_topic[topic].append(text)
    return dict(by_topic)


def evaluate(kb: KnowledgeBase, questions: list[str], vectors: np.ndarray) -> list[tuple[str, str]]:
    """(best article id, decision) per question, from pre-encoded vectors."""
    from assistant.kb.search import rank_vector

    out = []
    for text, vector in zip(questions, vectors, strict=True):
        hits = rank_vector(kb.index, vector, text, kb.retrieval, limit=kb.settings.clarify_options)
        decision = kb.decide(hits)[0]
        out.append((hits[0].id if hits else "", decision))
    return out


def percentile_ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(samples) * 1000, q)), 3)


def bench_accuracy(encoder: Encoder, articles: list[Article], oos_calibration: list[str]) -> dict[str, Any]:
    train, test = banking77("train"), banking77("test")
    test_texts = [t for t, _ in test]
    gold = [c for _, c in test]
    oos_test = clinc("oos_test")
    started = time.perf_counter()
    test_vectors = encoder.encode(test_texts)
    oos_vectors = encoder.encode(oos_test)
    encode_seconds = time.perf_counter() - started
    results: dict[str, Any] = {}

    for mode, questions in (("editor", editor_questions(train)), ("full", all_questions(train))):
        started = time.perf_counter()
        index, _ = build_index(with_questions(articles, questions), encoder, out_of_scope=oos_calibration)
        build_seconds = time.perf_counter() - started
        kb = KnowledgeBase(index, encoder)
        predicted = evaluate(kb, test_texts, test_vectors)
        results[f"banking77_{mode}_accuracy"] = round(
            float(np.mean([p == g for (p, _), g in zip(predicted, gold, strict=True)])), 4
        )
        results[f"banking77_{mode}_build_seconds"] = round(build_seconds, 1)
        if mode == "editor":
            oos = evaluate(kb, oos_test, oos_vectors)
            results["oos_answered_rate"] = round(float(np.mean([d == ANSWER for _, d in oos])), 4)
            results["oos_not_declined_rate"] = round(float(np.mean([d != DECLINE for _, d in oos])), 4)
            results["inscope_declined_rate"] = round(float(np.mean([d == DECLINE for _, d in predicted])), 4)
            results["inscope_wrong_rate"] = round(
                float(np.mean([d == ANSWER and p != g for (p, d), g in zip(predicted, gold, strict=True)])), 4
            )
            results["inscope_answered_rate"] = round(float(np.mean([d == ANSWER for _, d in predicted])), 4)
            answered = [p == g for (p, d), g in zip(predicted, gold, strict=True) if d == ANSWER]
            results["inscope_answered_precision"] = round(float(np.mean(answered or [False])), 4)
    results["test_encode_seconds"] = round(encode_seconds, 1)
    results["test_questions"] = len(test_texts)
    results["oos_test_questions"] = len(oos_test)
    return results


def bench_latency(encoder: Encoder, articles: list[Article], oos: list[str], n: int = 300) -> dict[str, Any]:
    index, _ = build_index(articles, encoder, out_of_scope=oos)
    kb = KnowledgeBase(index, encoder)
    questions = [t for t, _ in banking77("test")][:n]
    for q in questions[:20]:  # warm up
        kb.search(q)
    samples = []
    for q in questions:
        started = time.perf_counter()
        kb.search(q)
        samples.append(time.perf_counter() - started)
    return {
        "question_p50_ms": percentile_ms(samples, 50),
        "question_p95_ms": percentile_ms(samples, 95),
        "demo_passages": len(index.passages),
    }


def bench_million(
    encoder: Encoder, articles: list[Article], n: int = 1_000_000, queries: int = 500
) -> dict[str, Any]:
    import faiss

    index, _ = build_index(articles, encoder)
    base = index.vectors
    rng = np.random.default_rng(SEED)
    vectors = np.empty((n, base.shape[1]), dtype=np.float32)
    chunk = 100_000
    for start in range(0, n, chunk):  # each synthetic passage: a real one, mixed with another, jittered
        m = min(chunk, n - start)
        a, b = rng.integers(0, len(base), m), rng.integers(0, len(base), m)
        w = (rng.random((m, 1)) * 0.3).astype(np.float32)
        part = (
            base[a] * (1 - w)
            + base[b] * w
            + 0.02 * rng.standard_normal((m, base.shape[1])).astype(np.float32)
        )
        vectors[start : start + m] = part / np.linalg.norm(part, axis=1, keepdims=True)
    query_texts = [t for t, _ in banking77("test")]
    query_vectors = encoder.encode(random.Random(SEED).sample(query_texts, queries))

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    hnsw = make_faiss_index(vectors, show_progress=sys.stderr.isatty())
    build_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.faiss"
        faiss.write_index(hnsw, str(path))
        size_mb = path.stat().st_size / 2**20

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(query_vectors, 10)
    del exact

    faiss.omp_set_num_threads(1)  # one query at a time, one thread: a serving process

    def measure(ef: int) -> tuple[list[float], float]:
        hnsw.hnsw.efSearch = ef
        samples, recalls = [], []
        for q, true_ids in zip(query_vectors, truth, strict=True):
            started = time.perf_counter()
            _, ids = hnsw.search(q[None, :], 10)
            samples.append(time.perf_counter() - started)
            recalls.append(len(set(ids[0].tolist()) & set(true_ids.tolist())) / 10)
        return samples, float(np.mean(recalls))

    sweep = {}
    for ef in (64, 128, 256, 512):
        samples, recall = measure(ef)
        sweep[str(ef)] = {"p95_ms": percentile_ms(samples, 95), "recall_at_10": round(recall, 4)}
    samples, recall = measure(HNSW_EF_SEARCH)
    return {
        "search_1m_p50_ms": percentile_ms(samples, 50),
        "search_1m_p95_ms": percentile_ms(samples, 95),
        "search_1m_recall_at_10": round(recall, 4),
        "search_1m_ef_search": HNSW_EF_SEARCH,
        "search_1m_ef_sweep": sweep,
        "build_1m_seconds": round(build_seconds, 1),
        "index_1m_mb": round(size_mb, 1),
        "index_1m_type": "hnsw-ip",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ask_action_server(port: int, question: str) -> str:
    call = {
        "next_action": "action_kb_answer",
        "sender_id": "bench",
        "version": "3.6.21",
        "domain": {"responses": {}, "slots": {}},
        "tracker": {
            "sender_id": "bench",
            "slots": {},
            "latest_message": {"text": question, "intent": {"name": "ask_question"}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhook",
        data=json.dumps(call).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        body = json.loads(resp.read())
    return " ".join(r.get("text") or "" for r in body.get("responses", []))


def bench_edit_to_live(timeout: float = 60.0) -> dict[str, Any]:
    """A real action server over a copy of the articles; edit one, wait for the new answer."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "kb"
        shutil.copytree(ROOT / "data" / "kb", source)
        env = {
            **os.environ,
            "ASSISTANT_KB_SOURCE": str(source),
            "ASSISTANT_KB_INDEX": str(work / "index"),
            "ASSISTANT_DB_URL": f"sqlite:///{work / 'handoffs.db'}",
            "HF_HUB_OFFLINE": "1",
        }
        subprocess.run(
            [sys.executable, "-m", "assistant.cli", "kb", "build"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "actions"],
            cwd=ROOT,
            env={**env, "ASSISTANT_ACTION_PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the action server did not start") from None
                    time.sleep(0.3)
            marker = f"(rate checked {int(time.time())})"
            path = next(p for p in source.rglob("exchange_rate.md"))
            text = path.read_text(encoding="utf-8")
            question = parse_article(text, str(path)).questions[0]  # one the article answers
            head, body = text.split("\n---\n", 1)
            lead, rest = [*body.strip().split("\n\n", 1), ""][:2]
            started = time.perf_counter()
            path.write_text(f"{head}\n---\n{lead} {marker}\n\n{rest}\n", encoding="utf-8")
            while marker not in _ask_action_server(port, question):
                if time.perf_counter() - started > timeout:
                    return {"edit_to_live_seconds": None}
                time.sleep(0.1)
            return {"edit_to_live_seconds": round(time.perf_counter() - started, 2)}
        finally:
            server.terminate()
            server.wait(timeout=20)


def bench_rasa() -> dict[str, Any]:
    python = ROOT / ".venv-rasa" / "bin" / "python"
    if not python.exists():
        return {"rasa_error": "no .venv-rasa: run make install"}
    result = subprocess.run(
        [
            str(python),
            str(ROOT / "bench" / "rasa_baseline.py"),
            "--datasets",
            str(DATASETS),
            "--seed",
            str(SEED),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    if result.returncode != 0:
        return {"rasa_error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["accuracy", "latency", "million", "live", "rasa"]
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)

    encoder = SentenceTransformerEncoder(threads=1)
    articles = load_articles(ROOT / "data" / "kb")
    oos = read_out_of_scope(ROOT / "data" / "calibration" / "out_of_scope.txt")
    results: dict[str, Any] = {"model": encoder.name, "seed": SEED}
    steps = [
        ("latency", lambda: bench_latency(encoder, articles, oos)),
        ("accuracy", lambda: bench_accuracy(encoder, articles, oos)),
        ("live", bench_edit_to_live),
        ("million", lambda: bench_million(encoder, articles)),
        ("rasa", bench_rasa),
    ]
    for name, step in steps:
        if name in args.skip:
            continue
        started = time.perf_counter()
        results.update(step())
        results[f"bench_{name}_seconds"] = round(time.perf_counter() - started, 1)
        print(f"[bench] {name} done in {results[f'bench_{name}_seconds']}s", file=sys.stderr, flush=True)
    report(results, args.out, indent=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
