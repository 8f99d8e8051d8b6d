"""Choose the failed-question miner's settings on training data only (never on bench/ sets).

Failed questions are simulated with banking77's *train* split: questions that are not already
an article's example and that the knowledge base does not answer. Questions no article answers
come from clinc150's *val* split, intents of other domains (weather, recipes, travel...).
Prints, as JSON, for a grid of settings:

- clustering (``cluster_distance``): purity and coverage of the miner's clusters of the failed
  banking77 questions (min size 3);
- suggestion (``ATTACH_SCORE``): over groups of 4 questions of one category (or one foreign
  intent), the share of groups whose suggestion names the right article (or says "draft one").

    .venv/bin/python bench/tune_mining.py
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
FOREIGN = (
    "weather",
    "recipe",
    "travel_suggestion",
    "calories",
    "play_music",
    "timer",
    "restaurant_suggestion",
    "book_flight",
    "car_rental",
    "translate",
    "meaning_of_life",
    "tell_joke",
    "oil_change_how",
    "jump_start",
    "flight_status",
    "nutrition_info",
    "plug_type",
    "uber",
    "cook_time",
    "alarm",
    "smart_home",
    "shopping_list",
    "todo_list",
    "calendar",
    "what_song",
    "definition",
    "spelling",
    "gas_type",
    "tire_pressure",
    "pto_request",
)


def main() -> int:
    from assistant.insights import mining
    from assistant.kb.articles import load_articles
    from assistant.kb.edit import normalise
    from assistant.kb.encoder import default_encoder
    from assistant.kb.live import LiveKnowledgeBase

    rng = random.Random(7)
    kb = LiveKnowledgeBase(ROOT / "kb_index", default_encoder()).get()
    examples = {normalise(q) for a in load_articles(ROOT / "data" / "kb") for q in a.questions}
    ids = set(kb.index.articles)
    rows = [r for r in csv.DictReader((DATASETS / "banking77" / "train.csv").open()) if r["category"] in ids]
    rows = [r for r in rows if normalise(r["text"]) not in examples]
    rng.shuffle(rows)
    failed: list[tuple[str, str]] = []
    for r in rows[:3000]:
        if kb.search(r["text"]).decision != "answer":
            failed.append((r["text"], r["category"]))
    clinc = json.loads((DATASETS / "clinc150" / "data_full.json").read_text())
    foreign = defaultdict(list)
    for text, intent in clinc["val"]:
        if intent in FOREIGN:
            foreign[intent].append(text)

    vectors = kb.encoder.encode([kb.read(t) for t, _ in failed])
    clustering = []
    for distance in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55):
        labels = mining.cluster_vectors(np.asarray(vectors), distance=distance, min_size=3)
        groups = defaultdict(list)
        for (_, cat), lab in zip(failed, labels, strict=True):
            if lab >= 0:
                groups[lab].append(cat)
        clustered = sum(len(g) for g in groups.values())
        pure = sum(Counter(g).most_common(1)[0][1] for g in groups.values())
        clustering.append(
            {
                "cluster_distance": distance,
                "clusters": len(groups),
                "coverage": round(clustered / max(1, len(failed)), 3),
                "purity": round(pure / max(1, clustered), 3),
            }
        )

    by_cat = defaultdict(list)
    for text, cat in failed:
        by_cat[cat].append(text)
    groups_known = [(cat, texts[:4]) for cat, texts in by_cat.items() if len(texts) >= 4]
    groups_null = [(None, texts[:4]) for texts in foreign.values() if len(texts) >= 4]
    centres = []
    for cat, texts in groups_known + groups_null:
        read = [kb.read(t) for t in texts]
        centre = np.mean(kb.encoder.encode(read), axis=0)
        centre /= np.linalg.norm(centre)
        hits = kb.rank_vector(centre, " ".join(read), limit=3)
        centres.append((cat, hits[0].id, hits[0].score))
    suggestion = []
    for score in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65):
        right = sum((top == cat and s >= score) if cat else s < score for cat, top, s in centres)
        suggestion.append({"attach_score": score, "precision": round(right / max(1, len(centres)), 3)})
    print(
        json.dumps(
            {
                "failed_train_questions": len(failed),
                "known_groups": len(groups_known),
                "null_groups": len(groups_null),
                "clustering": clustering,
                "suggestion": suggestion,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
