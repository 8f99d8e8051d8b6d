"""Rasa's own approach on the knowledge-base benchmark: one DIET intent per BANKING77 topic.

Runs in the Rasa virtualenv (Python 3.10): `.venv-rasa/bin/python bench/rasa_baseline.py`.
Trains Rasa's default NLU pipeline on the same examples as the knowledge-base benchmark
(10 per topic with the same seed, then all of train.csv), and prints one JSON line with
rasa_editor_accuracy, rasa_full_accuracy, rasa_train_seconds (editor), rasa_full_train_seconds,
rasa_question_p50_ms. DIET epochs: BENCH_RASA_EPOCHS (default 100) and BENCH_RASA_FULL_EPOCHS
(default 20: all of train.csv at 100 epochs takes about two hours on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PIPELINE = """\
recipe: default.v1
language: en
assistant_id: bench
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: {epochs}
    random_seed: {seed}
    constrain_similarities: true
policies: []
"""


def read(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as f:
        return [(r["text"].strip(), r["category"]) for r in csv.DictReader(f)]


def editor_questions(train, seed: int, per_topic: int = 10):
    by_topic = defaultdict(list)
    for text, topic in train:
        by_topic[topic].append(text)
    rng = random.Random(seed)
    return {t: rng.sample(sorted(set(qs)), per_topic) for t, qs in sorted(by_topic.items())}


def all_questions(train):
    by_topic = defaultdict(list)
    for text, topic in train:
        by_topic[topic].append(text)
    return dict(by_topic)


def intent_name(topic: str) -> str:
    return topic.replace("?", "_q")


def write_project(folder: Path, questions, epochs: int, seed: int) -> None:
    (folder / "data").mkdir(parents=True)
    (folder / "config.yml").write_text(PIPELINE.format(epochs=epochs, seed=seed), encoding="utf-8")
    intents = "\n".join(f"  - {intent_name(t)}" for t in questions)
    (folder / "domain.yml").write_text(f'version: "3.1"\nintents:\n{intents}\n', encoding="utf-8")
    lines = ['version: "3.1"', "nlu:"]
    for topic, qs in questions.items():
        lines.append(f"- intent: {intent_name(topic)}")
        lines.append("  examples: |")
        lines += [f"    - {json.dumps(q)[1:-1]}" for q in qs]
    (folder / "data" / "nlu.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def evaluate(model: str, test, timed: int = 300):
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    correct, samples = 0, []
    for i, (text, topic) in enumerate(test):
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        if i < timed:
            samples.append(time.perf_counter() - started)
        correct += parsed["intent"]["name"] == intent_name(topic)
    return correct / len(test), statistics.median(samples) * 1000


def run(mode: str, questions, test, epochs: int, seed: int):
    from rasa.model_training import train_nlu

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_project(folder, questions, epochs, seed)
        started = time.perf_counter()
        model = train_nlu(
            str(folder / "config.yml"),
            str(folder / "data"),
            str(folder / "models"),
            domain=str(folder / "domain.yml"),
        )
        seconds = time.perf_counter() - started
        accuracy, p50 = asyncio.run(evaluate(model, test))
    print(f"[rasa] {mode}: {accuracy:.4f} in {seconds:.0f}s", file=sys.stderr, flush=True)
    return accuracy, seconds, p50


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--modes", nargs="*", default=["editor", "full"])
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    train = read(args.datasets / "banking77" / "train.csv")
    test = read(args.datasets / "banking77" / "test.csv")
    epochs = int(os.environ.get("BENCH_RASA_EPOCHS", "100"))
    full_epochs = int(os.environ.get("BENCH_RASA_FULL_EPOCHS", "20"))
    out = {"rasa_pipeline": "DIET (default.v1 NLU pipeline)", "rasa_epochs": epochs}
    if "editor" in args.modes:
        accuracy, seconds, p50 = run("editor", editor_questions(train, args.seed), test, epochs, args.seed)
        out.update(
            rasa_editor_accuracy=round(accuracy, 4),
            rasa_train_seconds=round(seconds, 1),
            rasa_question_p50_ms=round(p50, 2),
        )
    if "full" in args.modes:
        accuracy, seconds, _ = run("full", all_questions(train), test, full_epochs, args.seed)
        out.update(
            rasa_full_accuracy=round(accuracy, 4),
            rasa_full_train_seconds=round(seconds, 1),
            rasa_full_epochs=full_epochs,
        )
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
