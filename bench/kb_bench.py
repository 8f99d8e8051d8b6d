"""Knowledge-base benchmark: ``make bench-kb`` prints one JSON object (and writes var/bench-kb.json).

Tuning data is train/val only; every accuracy figure is on BANKING77's test split, CLINC150's
``oos_test`` and our own held-out set (bench/kb_heldout.yml), none of which anything was fitted
or tuned on.

- ``banking77_{editor,full}_accuracy``: the demo articles with 10 example questions per topic
  drawn from train.csv (fixed seed), or with every train.csv question; top-1 article on test.csv.
- ``inscope_*`` (editor mode) and ``full_inscope_*``: the decisions on test.csv:
  ``answered_correct_rate`` (answered with the right article), ``wrong_rate`` (answered with a
  wrong one), ``clarify_rate``, ``clarify_hit_rate`` (right article among the offered choices),
  ``declined_rate``; ``oos_*``: the decisions on CLINC150 oos_test.
- ``typo_accuracy``: editor mode on test.csv with typos injected (:func:`inject_typos`: in one
  word out of four, of three letters or more, two neighbouring letters swapped, one dropped or
  one doubled; seed 77), next to ``banking77_editor_accuracy``.
- ``coverage_at_wrong_{1,3}pct``: editor mode; the share of test.csv answered when the answer
  threshold is set so that at most 1% (3%) of the questions get a wrong answer.
- ``heldout_*``: the demo knowledge base as shipped (data/kb with its own example questions),
  on bench/kb_heldout.yml: customer questions written apart from the articles.
- ``question_p50_ms`` / ``question_p95_ms``: one question end to end (read, encode, head,
  search, fusion, calibration) on the demo index, one thread.
- ``build_from_scratch_seconds``, ``rebuild_one_question_seconds``: the demo index built from
  nothing, then rebuilt after one example question is added (what the article watcher publishes).
- ``search_1m_*``, ``build_1m_seconds``, ``index_1m_mb``: HNSW over 1,000,000 synthetic passages
  (real passage vectors, mixed and jittered), recall@10 against exact search.
- ``edit_to_live_seconds``: a real action server; one article is edited, and the time until the
  server answers with the new text is measured.
- ``rasa_*``: Rasa's DIET trained on the same examples (``bench/rasa_baseline.py``, in the
  Rasa virtualenv).

``--split val`` runs the accuracy part on a validation split of train.csv instead (20 per topic,
none of them editor examples): the one to choose settings and thresholds on.
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from assistant.benchout import report
from assistant.kb.articles import Article, load_articles, parse_article
from assistant.kb.build import build_index
from assistant.kb.calibrate import read_out_of_scope
from assistant.kb.encoder import Encoder, default_encoder
from assistant.kb.index import HNSW_EF_SEARCH, make_faiss_index
from assistant.kb.search import ANSWER, CLARIFY, DECLINE, KnowledgeBase
from assistant.kb.spelling import load_vocabulary
from assistant.kb.tune import load_tuned, tune_encoder

ROOT = Path(__file__).resolve().parents[1]
TUNED = ROOT / "var" / "bench-encoders"  # tuned encoders, by a hash of their examples: reused across runs
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


def validation_split(train: list[tuple[str, str]], per_topic: int = 20) -> list[tuple[str, str]]:
    """Train questions that are not editor examples, 20 per topic: for choosing settings."""
    chosen = {(t, c) for c, qs in editor_questions(train).items() for t in qs}
    by_topic: dict[str, list[str]] = defaultdict(list)
    for text, topic in train:
        if (text, topic) not in chosen:
            by_topic[topic].append(text)
    rng = random.Random(SEED + 1)
    return [(t, c) for c in sorted(by_topic) for t in rng.sample(sorted(set(by_topic[c])), per_topic)]


def inject_typos(text: str, rng: random.Random) -> str:
    """In one word out of four (words of 3+ letters): two neighbouring letters swapped, one
    dropped or one doubled, chosen at random."""
    words = text.split()
    for i, word in enumerate(words):
        if len(word) >= 3 and rng.random() < 0.25:
            j = rng.randrange(len(word) - 1)
            kind = rng.choice(("swap", "drop", "double"))
            if kind == "swap":
                word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
            elif kind == "drop":
                word = word[:j] + word[j + 1 :]
            else:
                word = word[:j] + word[j] + word[j:]
            words[i] = word
    return " ".join(words)


@dataclass
class Outcome:
    """One question's result: the best article, the decision, the offered articles, confidence."""

    best: str
    decision: str
    offered: list[str]
    confidence: float


def evaluate(kb: KnowledgeBase, questions: list[str]) -> list[Outcome]:
    """Every question through the knowledge base's own path (read, encode, rank, decide),
    encoded in one batch for speed."""
    read = [kb.read(q) for q in questions]
    vectors = kb.encoder.encode(read)
    out = []
    for text, vector in zip(read, vectors, strict=True):
        hits = kb.rank_vector(vector, text, limit=kb.settings.clarify_options)
        decision, confidence, _ = kb.decide(hits)
        out.append(Outcome(hits[0].id if hits else "", decision, [h.id for h in hits], confidence))
    return out


def rate(values: list[bool]) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0


def decision_rates(outcomes: list[Outcome], gold: list[str | None], prefix: str) -> dict[str, float]:
    """Answered right or wrong, clarified (and was the right one offered), declined."""
    inscope = [(o, g) for o, g in zip(outcomes, gold, strict=True) if g is not None]
    clarified = [(o, g) for o, g in inscope if o.decision == CLARIFY]
    return {
        f"{prefix}answered_correct_rate": rate([o.decision == ANSWER and o.best == g for o, g in inscope]),
        f"{prefix}wrong_rate": rate([o.decision == ANSWER and o.best != g for o, g in inscope]),
        f"{prefix}answered_rate": rate([o.decision == ANSWER for o, _ in inscope]),
        f"{prefix}clarify_rate": rate([o.decision == CLARIFY for o, _ in inscope]),
        f"{prefix}clarify_hit_rate": rate([g in o.offered for o, g in clarified]),
        f"{prefix}declined_rate": rate([o.decision == DECLINE for o, _ in inscope]),
    }


def coverage_at_wrong(outcomes: list[Outcome], gold: list[str], wrong: float) -> float:
    """The share answered when the answer threshold is as low as it can be with at most
    ``wrong`` of all questions answered wrongly."""
    order = sorted(range(len(outcomes)), key=lambda i: -outcomes[i].confidence)
    allowed = wrong * len(outcomes)
    errors = best = 0
    for answered, i in enumerate(order, start=1):
        errors += outcomes[i].best != gold[i]
        if errors <= allowed:
            best = answered
    return round(best / len(outcomes), 4)


def percentile_ms(samples: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(samples) * 1000, q)), 3)


def tuned_for(articles: list[Article], base: Encoder, tune: bool) -> tuple[Encoder, float]:
    """The encoder tuned on ``articles``' example questions (and the seconds it took), or the
    base one when tuning is off."""
    if not tune:
        return base, 0.0
    started = time.perf_counter()
    folder = tune_encoder(articles, TUNED)
    seconds = round(time.perf_counter() - started, 1)
    return (load_tuned(folder) if folder else base), seconds


def bench_accuracy(
    base: Encoder,
    articles: list[Article],
    oos_calibration: list[str],
    synonyms: dict[str, str],
    split: str,
    tune: bool,
) -> dict[str, Any]:
    train = banking77("train")
    test = validation_split(train) if split == "val" else banking77("test")
    test_texts = [t for t, _ in test]
    gold = [c for _, c in test]
    oos_test = clinc("oos_val" if split == "val" else "oos_test")
    typo_rng = random.Random(SEED)
    typo_texts = [inject_typos(t, typo_rng) for t in test_texts]
    results: dict[str, Any] = {"split": split}
    for mode, questions in (("editor", editor_questions(train)), ("full", all_questions(train))):
        mode_articles = with_questions(articles, questions)
        encoder, results[f"banking77_{mode}_tune_seconds"] = tuned_for(mode_articles, base, tune)
        started = time.perf_counter()
        index, _ = build_index(mode_articles, encoder, out_of_scope=oos_calibration, synonyms=synonyms)
        results[f"banking77_{mode}_build_seconds"] = round(time.perf_counter() - started, 1)
        kb = KnowledgeBase(index, encoder)
        outcomes = evaluate(kb, test_texts)
        results[f"banking77_{mode}_accuracy"] = rate(
            [o.best == g for o, g in zip(outcomes, gold, strict=True)]
        )
        prefix = "inscope_" if mode == "editor" else "full_inscope_"
        results.update(decision_rates(outcomes, list(gold), prefix))
        oos = evaluate(kb, oos_test)
        oos_prefix = "oos_" if mode == "editor" else "full_oos_"
        results[f"{oos_prefix}answered_rate"] = rate([o.decision == ANSWER for o in oos])
        results[f"{oos_prefix}not_declined_rate"] = rate([o.decision != DECLINE for o in oos])
        if mode == "editor":
            answered = [o.best == g for o, g in zip(outcomes, gold, strict=True) if o.decision == ANSWER]
            results["inscope_answered_precision"] = rate(answered)
            results["coverage_at_wrong_1pct"] = coverage_at_wrong(outcomes, gold, 0.01)
            results["coverage_at_wrong_3pct"] = coverage_at_wrong(outcomes, gold, 0.03)
            results["wrong_rate_by_answer_at"] = threshold_curve(outcomes, gold)
            typos = evaluate(kb, typo_texts)
            results["typo_accuracy"] = rate([o.best == g for o, g in zip(typos, gold, strict=True)])
            results.update(decision_rates(typos, list(gold), "typo_inscope_"))
    results["test_questions"] = len(test_texts)
    results["oos_test_questions"] = len(oos_test)
    return results


def threshold_curve(outcomes: list[Outcome], gold: list[str]) -> dict[str, dict[str, float]]:
    """For answer_at from 0.3 to 0.95: the share answered and the share answered wrongly."""
    curve = {}
    for answer_at in np.arange(0.3, 0.96, 0.05):
        answered = [o.confidence >= answer_at for o in outcomes]
        wrong = [a and o.best != g for a, o, g in zip(answered, outcomes, gold, strict=True)]
        curve[f"{answer_at:.2f}"] = {"answered": rate(answered), "wrong": rate(wrong)}
    return curve


def bench_heldout(kb: KnowledgeBase) -> dict[str, Any]:
    """The demo knowledge base as shipped, on questions written apart from it."""
    data = yaml.safe_load((ROOT / "bench" / "kb_heldout.yml").read_text(encoding="utf-8"))
    items = data["questions"]
    outcomes = evaluate(kb, [q["text"] for q in items])
    gold: list[str | None] = [q["expect"] for q in items]

    def right(o: Outcome, q: dict[str, Any]) -> bool:
        return o.best == q["expect"] or o.best in (q.get("also") or [])

    inscope = [(o, q) for o, q in zip(outcomes, items, strict=True) if q["expect"] is not None]
    oos = [o for o, q in zip(outcomes, items, strict=True) if q["expect"] is None]
    clarified = [(o, q) for o, q in inscope if o.decision == CLARIFY]
    results: dict[str, Any] = {
        "heldout_questions": len(items),
        "heldout_inscope_questions": len(inscope),
        "heldout_answered_correct_rate": rate([o.decision == ANSWER and right(o, q) for o, q in inscope]),
        "heldout_wrong_rate": rate([o.decision == ANSWER and not right(o, q) for o, q in inscope]),
        "heldout_clarify_rate": rate([o.decision == CLARIFY for o, _ in inscope]),
        "heldout_clarify_hit_rate": rate(
            [
                q["expect"] in o.offered or bool(set(o.offered) & set(q.get("also") or []))
                for o, q in clarified
            ]
        ),
        "heldout_declined_rate": rate([o.decision == DECLINE for o, _ in inscope]),
        "heldout_top1_accuracy": rate([right(o, q) for o, q in inscope]),
        "heldout_oos_answered_rate": rate([o.decision == ANSWER for o in oos]),
        "heldout_oos_declined_rate": rate([o.decision == DECLINE for o in oos]),
    }
    by_kind: dict[str, dict[str, float]] = {}
    for kind in sorted({q["kind"] for q in items if q["expect"] is not None}):
        pairs = [(o, q) for o, q in inscope if q["kind"] == kind]
        by_kind[kind] = {
            "n": len(pairs),
            "answered_correct": rate([o.decision == ANSWER and right(o, q) for o, q in pairs]),
            "wrong": rate([o.decision == ANSWER and not right(o, q) for o, q in pairs]),
            "top1": rate([right(o, q) for o, q in pairs]),
        }
    results["heldout_by_kind"] = by_kind
    del gold
    return results


def bench_demo(
    base: Encoder, articles: list[Article], oos: list[str], synonyms: dict[str, str], tune: bool
) -> dict[str, Any]:
    """The demo index: build time from scratch and after one new example question, the
    latency of one question end to end, and the held-out set."""
    encoder, tune_seconds = tuned_for(articles, base, tune)
    started = time.perf_counter()
    index, _ = build_index(articles, encoder, out_of_scope=oos, synonyms=synonyms)
    scratch = time.perf_counter() - started
    changed = [
        replace(a, questions=(*a.questions, "the card I ordered for my son has not come yet"))
        if a.id == "card_arrival"
        else a
        for a in articles
    ]
    started = time.perf_counter()
    build_index(changed, encoder, index, out_of_scope=oos, synonyms=synonyms, calibrate=False)
    one = time.perf_counter() - started
    from assistant.content import load_content

    kb = KnowledgeBase(index, encoder, load_content(ROOT / "data" / "assistant.yml").kb)
    questions = [t for t, _ in banking77("test")][:300]
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
        "build_from_scratch_seconds": round(scratch, 2),
        "demo_tune_seconds": tune_seconds,
        "rebuild_one_question_seconds": round(one, 2),
        **bench_heldout(kb),
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
        "--skip", nargs="*", default=[], choices=["demo", "accuracy", "million", "live", "rasa"]
    )
    parser.add_argument(
        "--split", choices=["test", "val"], default="test", help="val: a validation split of train.csv"
    )
    parser.add_argument(
        "--no-tune", action="store_true", help="the base encoder, not one tuned on the examples"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    tune = not args.no_tune

    encoder = default_encoder(threads=1)
    articles = load_articles(ROOT / "data" / "kb")
    oos = read_out_of_scope(ROOT / "data" / "calibration" / "out_of_scope.txt")
    synonyms = load_vocabulary(ROOT / "data" / "vocabulary.yml")
    results: dict[str, Any] = {"model": encoder.name, "tuned": tune, "seed": SEED}
    steps = [
        ("demo", lambda: bench_demo(encoder, articles, oos, synonyms, tune)),
        ("accuracy", lambda: bench_accuracy(encoder, articles, oos, synonyms, args.split, tune)),
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
