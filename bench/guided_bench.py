"""Guided Q&A benchmark: ``make bench-guided`` (``bench/guided_bench.py``) prints one JSON object.

- The case-based recommender, leave-one-out on the case base: for each satisfied case, recommend
  from the other cases and check that the product the customer chose and liked comes first
  (hit@1), among the (up to three) compared side by side (hit@3), or anywhere in what is shown,
  the suggestion of the other kind included (hit_shown); with the time per recommendation.
- Typed answers to guided questions (``bench/guided_answers.yml``, written apart from the match
  phrases): how often the matcher picks the option a person would, how often it picks a wrong
  one (worse than asking again), with and without the MiniLM similarity step; the matcher knows
  the example answers of ``data/typed_answers.yml``, as in production.
- ``--tune``: the grid that chose the matcher's thresholds (``EXAMPLE_CONFIDENCE``,
  ``PHRASE_AGREEMENT`` in ``assistant/guided/matching.py`` for the trees, ``NEED_CONFIDENCE`` and
  ``NEED_AGREEMENT`` in ``assistant/guided/catalog.py`` for the product questions), on the validation part of
  ``data/typed_answers.yml`` with the rest as examples. The held-out answers play no part.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from assistant.benchout import report
from assistant.guided import catalog as catalog_module
from assistant.guided import matching
from assistant.guided.answers import NONE, TypedAnswers, load_typed_answers, split
from assistant.guided.catalog import Catalog, load_catalog
from assistant.guided.recommend import CaseBasedRecommender
from assistant.guided.trees import TreeSet, load_trees


def bench_recommender(catalog: Catalog) -> dict[str, Any]:
    hits1 = hits3 = shown = total = 0
    reciprocal: list[float] = []
    timings: list[float] = []
    for case in catalog.cases:
        if not case.satisfied:
            continue
        others = replace(catalog, cases=[c for c in catalog.cases if c.id != case.id])
        start = time.perf_counter()
        result = CaseBasedRecommender(others).recommend(case.needs)
        timings.append((time.perf_counter() - start) * 1000)
        ids = [r.product.id for r in result.recommendations]
        total += 1
        hits1 += bool(ids[:1] == [case.chosen])
        hits3 += case.chosen in ids[:3]
        shown += case.chosen in ids or (result.also is not None and result.also.product.id == case.chosen)
        reciprocal.append(1 / (ids.index(case.chosen) + 1) if case.chosen in ids else 0.0)
    timings.sort()
    return {
        "recommender_cases": len(catalog.cases),
        "recommender_loo_satisfied_cases": total,
        "recommender_hit_at_1": round(hits1 / total, 4) if total else None,
        "recommender_hit_at_3": round(hits3 / total, 4) if total else None,
        "recommender_hit_shown": round(shown / total, 4) if total else None,
        "recommender_mrr": round(statistics.fmean(reciprocal), 4) if reciprocal else None,
        "recommender_ms_p50": round(timings[len(timings) // 2], 3) if timings else None,
        "recommender_ms_p95": round(timings[int(len(timings) * 0.95)], 3) if timings else None,
    }


def _score(pairs: list[tuple[str | None, str | None]]) -> dict[str, float]:
    n = len(pairs)
    right = sum(1 for got, want in pairs if got == want)
    wrong_pick = sum(1 for got, want in pairs if got is not None and got != want)
    asked_again = sum(1 for got, want in pairs if got is None and want is not None)
    return {
        "accuracy": round(right / n, 4),
        "wrong_pick_rate": round(wrong_pick / n, 4),
        "asked_again_rate": round(asked_again / n, 4),
    }


def bench_matching(trees: TreeSet, catalog: Catalog, answers: dict[str, Any], encoder: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, enc in (("words", None), ("words_and_minilm", encoder)):
        if label == "words_and_minilm" and encoder is None:
            continue
        tree_pairs: list[tuple[str | None, str | None]] = []
        timings: list[float] = []
        # Two passes: the first encodes each node's options once (cold), the second is what a
        # running server sees (warm: only the customer's words are encoded).
        for warm in (False, True):
            timings.clear()
            for item in answers.get("tree_answers", []):
                tree = trees.get(item["tree"])
                if tree is None:
                    continue
                start = time.perf_counter()
                option = tree.choose(item["node"], str(item["text"]), enc)
                timings.append((time.perf_counter() - start) * 1000)
                if warm:
                    tree_pairs.append((option.next if option else None, item.get("expect")))
        need_pairs = [
            (catalog.need(item["need"]).understand(str(item["text"]), enc), item.get("expect"))
            for item in answers.get("needs_answers", [])
            if item["need"] in catalog.needs
        ]
        if tree_pairs:
            for key, value in _score(tree_pairs).items():
                out[f"tree_answers_{label}_{key}"] = value
            timings.sort()
            out[f"tree_answers_{label}_ms_p95"] = round(timings[int(len(timings) * 0.95)], 2)
        if need_pairs:
            for key, value in _score(need_pairs).items():
                out[f"needs_answers_{label}_{key}"] = value
    out["tree_answers_n"] = len(answers.get("tree_answers", []))
    out["needs_answers_n"] = len(answers.get("needs_answers", []))
    return out


def tune(trees: TreeSet, catalog: Catalog, answers: TypedAnswers, encoder: Any) -> dict[str, Any]:
    """Thresholds on the validation part of the example answers (the rest are the examples)."""
    train, val = split(answers)
    known_trees, known_catalog = trees.with_answers(train), catalog.with_answers(train)
    items: list[tuple[str, str, str | None, str, str | None]] = []
    for (tree_id, node_id), group in val.trees.items():
        node = trees.get(tree_id).nodes[node_id]  # type: ignore[union-attr]
        for key, texts in group.items():
            want = None if key == NONE else next(o.next for o in node.options if key in (o.label, o.next))
            items += [("tree", tree_id, node_id, t, want) for t in texts]
    for need, group in val.needs.items():
        for key, texts in group.items():
            items += [("need", need, None, t, None if key == NONE else key) for t in texts]
    grid = []
    for confidence in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85):
        for agreement in (0.0, 0.1, 0.2, 0.3):
            pairs: dict[str, list[tuple[str | None, str | None]]] = {"tree": [], "need": []}
            for kind, where, node_id, text, want in items:
                matching.EXAMPLE_CONFIDENCE, matching.PHRASE_AGREEMENT = confidence, agreement
                catalog_module.NEED_CONFIDENCE, catalog_module.NEED_AGREEMENT = confidence, agreement
                if kind == "tree":
                    option = known_trees.get(where).choose(node_id, text, encoder)  # type: ignore[union-attr]
                    pairs[kind].append((option.next if option else None, want))
                else:
                    pairs[kind].append((known_catalog.need(where).understand(text, encoder), want))
            row: dict[str, Any] = {"confidence": confidence, "agreement": agreement}
            for kind, scored in pairs.items():
                score = _score(scored)
                row[f"{kind}_accuracy"], row[f"{kind}_wrong"] = score["accuracy"], score["wrong_pick_rate"]
            # a wrong pick costs more than asking again
            row["tree_utility"] = round(row["tree_accuracy"] - 2 * row["tree_wrong"], 4)
            row["need_utility"] = round(row["need_accuracy"] - 2 * row["need_wrong"], 4)
            grid.append(row)
    best_tree = max(grid, key=lambda r: r["tree_utility"])
    best_need = max(grid, key=lambda r: r["need_utility"])
    return {
        "validation_answers": len(items),
        "best_for_trees": best_tree,
        "best_for_needs": best_need,
        "grid": grid,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data")
    parser.add_argument("--answers", default="bench/guided_answers.yml")
    parser.add_argument("--no-encoder", action="store_true", help="skip the MiniLM step")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument(
        "--tune", action="store_true", help="choose the matcher's thresholds (validation part)"
    )
    args = parser.parse_args(argv)
    data = Path(args.data)
    start = time.perf_counter()
    trees = load_trees(data / "troubleshooting")
    catalog = load_catalog(data / "products.yml", data / "cases.yml")
    typed = load_typed_answers(data / "typed_answers.yml", trees, catalog)
    result: dict[str, Any] = {"load_ms": round((time.perf_counter() - start) * 1000, 1)}
    if args.tune:
        from assistant.kb.encoder import default_encoder

        report(tune(trees, catalog, typed, default_encoder(threads=1)), args.out)
        return 0
    trees, catalog = trees.with_answers(typed), catalog.with_answers(typed)
    result["typed_answer_examples"] = len(typed)
    result.update(bench_recommender(catalog))
    answers_path = Path(args.answers)
    if answers_path.is_file():
        encoder = None
        if not args.no_encoder:
            from assistant.kb.encoder import default_encoder

            encoder = default_encoder(threads=1)
        answers = yaml.safe_load(answers_path.read_text(encoding="utf-8")) or {}
        result.update(bench_matching(trees, catalog, answers, encoder))
    report(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
