"""Held-out intent recognition: ``make bench-intents`` prints one JSON object.

``bench/intents_heldout.yml`` holds customer phrasings for the conversational intents (greet,
request_human, thank, ...), written apart from the training data and never trained or tuned on.
This runner starts Rasa on its own (no action server, no web app, an in-memory tracker store)
with the trained model ``models/kestrel.tar.gz`` on a free port, posts every phrasing to
``POST /model/parse`` and compares the intent Rasa returns with the one expected.

What is reported (see DEFINITIONS): overall and per-intent accuracy, per intent what its
phrasings were taken for, the ``nlu_fallback`` counts (config.yml's FallbackClassifier: a top
confidence below the threshold, or two intents too close, comes back as ``nlu_fallback``), for
the intents that must never become a question the share that went to ``ask_question`` or
``nlu_fallback`` (both end in the knowledge base), and every miss.

The scoring (:func:`score`) takes plain dicts, so it can be checked without Rasa.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PHRASINGS = ROOT / "bench" / "intents_heldout.yml"
MODEL = ROOT / "models" / "kestrel.tar.gz"
DEFAULT_PORT = 25105  # never make run's (5005), the tests' (15005) nor bench-conversations' (25005)
FALLBACK = "nlu_fallback"
QUESTION = "ask_question"
# Intents that must be recognised as what they are: taken for a question (ask_question) or not
# understood (nlu_fallback), the message goes to the knowledge base instead.
NEVER_A_QUESTION = ("request_human", "thank", "complain", "cancel")

DEFINITIONS = {
    "accuracy": (
        "phrasings whose returned intent (after the FallbackClassifier) is the expected one / phrasings"
    ),
    "per_intent.accuracy": "the same over one intent's phrasings",
    "per_intent.taken_for": "for one expected intent: how many of its phrasings came back as each intent",
    "per_intent.classifier_top_accuracy": (
        "share of the intent's phrasings whose best intent before the fallback (the first intent in "
        "Rasa's ranking other than nlu_fallback) is the expected one: what accuracy would be with no "
        "fallback"
    ),
    "nlu_fallback": (
        "phrasings returned as nlu_fallback (top confidence below the threshold, or the top two closer "
        "than the ambiguity threshold); right_below_fallback: of those, the ones whose best intent "
        "before the fallback was the expected one"
    ),
    "to_knowledge_base": (
        "for request_human, thank, complain and cancel: phrasings returned as ask_question or "
        "nlu_fallback (both are answered from the knowledge base instead), and their share"
    ),
    "misses": (
        "every phrasing not returned as expected: got and confidence are what Rasa returned (for "
        "nlu_fallback the confidence is the threshold); classifier_top and classifier_confidence "
        "are the best intent before the fallback"
    ),
}


# ---- the phrasings and the scoring (pure) --------------------------------------------------------
def load_phrasings(path: Path = PHRASINGS) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    phrasings = data.get("phrasings")
    if not isinstance(phrasings, dict):
        raise ValueError(f"{path}: no 'phrasings' mapping")
    out: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for intent, texts in phrasings.items():
        if not isinstance(texts, list) or not texts:
            raise ValueError(f"{path}: {intent} has no phrasings")
        for text in texts:
            key = " ".join(str(text).split()).casefold()
            if key in seen:
                raise ValueError(f"{path}: {text!r} appears twice ({seen[key]} and {intent})")
            seen[key] = str(intent)
        out[str(intent)] = [str(t) for t in texts]
    return out


def fallback_settings(config: Path = ROOT / "config.yml") -> dict[str, Any]:
    """The FallbackClassifier's thresholds in config.yml (None when it has none)."""
    pipeline = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("pipeline") or []
    for component in pipeline:
        if component.get("name") == "FallbackClassifier":
            return {
                "threshold": component.get("threshold"),
                "ambiguity_threshold": component.get("ambiguity_threshold"),
            }
    return {"threshold": None, "ambiguity_threshold": None}


def classifier_top(parsed: dict[str, Any]) -> tuple[str | None, float | None]:
    """The best intent before the FallbackClassifier: the first in the ranking that is not nlu_fallback."""
    for entry in parsed.get("intent_ranking") or []:
        if entry.get("name") != FALLBACK:
            return entry.get("name"), entry.get("confidence")
    intent = parsed.get("intent") or {}
    if intent.get("name") != FALLBACK:
        return intent.get("name"), intent.get("confidence")
    return None, None


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures from ``rows``, each {"text", "expected", "parsed"} (``parsed``: /model/parse's answer)."""
    per_intent: dict[str, dict[str, Any]] = {}
    misses: list[dict[str, Any]] = []
    correct = fallbacks = fallback_right = 0
    for row in rows:
        expected = row["expected"]
        intent = row["parsed"].get("intent") or {}
        got, confidence = intent.get("name"), intent.get("confidence")
        top, top_confidence = classifier_top(row["parsed"])
        stats = per_intent.setdefault(
            expected, {"n": 0, "correct": 0, "top_correct": 0, "fallback": 0, "taken_for": Counter()}
        )
        stats["n"] += 1
        stats["taken_for"][got or "none"] += 1
        stats["top_correct"] += top == expected
        if got == FALLBACK:
            fallbacks += 1
            stats["fallback"] += 1
            fallback_right += top == expected
        if got == expected:
            correct += 1
            stats["correct"] += 1
        else:
            misses.append(
                {
                    "text": row["text"],
                    "expected": expected,
                    "got": got,
                    "confidence": _round(confidence),
                    "classifier_top": top,
                    "classifier_confidence": _round(top_confidence),
                }
            )
    total = len(rows)
    intents = {
        name: {
            "n": s["n"],
            "correct": s["correct"],
            "accuracy": _rate(s["correct"], s["n"]),
            "classifier_top_accuracy": _rate(s["top_correct"], s["n"]),
            "nlu_fallback": s["fallback"],
            "taken_for": dict(s["taken_for"].most_common()),
        }
        for name, s in per_intent.items()
    }
    to_kb = {}
    for name in NEVER_A_QUESTION:
        s = per_intent.get(name)
        if s is None:
            continue
        question, fallback = s["taken_for"].get(QUESTION, 0), s["taken_for"].get(FALLBACK, 0)
        to_kb[name] = {
            "n": s["n"],
            QUESTION: question,
            FALLBACK: fallback,
            "share": _rate(question + fallback, s["n"]),
        }
    kb_n = sum(v["n"] for v in to_kb.values())
    kb_k = sum(v[QUESTION] + v[FALLBACK] for v in to_kb.values())
    misses.sort(key=lambda m: (m["expected"], -(m["classifier_confidence"] or 0.0)))
    return {
        "phrasings": total,
        "correct": correct,
        "accuracy": _rate(correct, total),
        "per_intent_accuracy": {name: v["accuracy"] for name, v in intents.items()},
        "nlu_fallback": {
            "total": fallbacks,
            "rate": _rate(fallbacks, total),
            "right_below_fallback": fallback_right,
            "by_expected": {name: v["nlu_fallback"] for name, v in intents.items() if v["nlu_fallback"]},
        },
        "to_knowledge_base": {"overall_share": _rate(kb_k, kb_n), **to_kb},
        "per_intent": intents,
        "misses": misses,
    }


# ---- Rasa on its own -------------------------------------------------------------------------------
def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there, else one the system picks."""
    from assistant.stack import _free

    if _free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Rasa:
    """``rasa run --enable-api`` with the model alone, started and stopped like the stack's Rasa."""

    def __init__(self, work: Path, port: int, model: Path = MODEL):
        from assistant.stack import Service, Stack

        self.port, self.token = port, secrets.token_urlsafe(16)
        endpoints = work / "endpoints.yml"  # no tracker store (in memory); no action is ever run
        endpoints.write_text('action_endpoint:\n  url: "http://127.0.0.1:9/webhook"\n', encoding="utf-8")
        self.service = Service(
            "rasa",
            [
                str(ROOT / ".venv-rasa" / "bin" / "rasa"),
                "run",
                "--model",
                str(model),
                "--port",
                str(port),
                "--interface",
                "127.0.0.1",
                "--enable-api",
                f"--auth-token={self.token}",  # one argument: a token may start with "-"
                "--endpoints",
                str(endpoints),
            ],
            f"http://127.0.0.1:{port}/status?token={urllib.parse.quote(self.token, safe='')}",
            {
                "RASA_TELEMETRY_ENABLED": "false",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
                "OMP_NUM_THREADS": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            },
            log_path=work / "rasa.log",
        )
        # Stack's readiness wait and process-group stop, over this one service.
        self.stack = Stack(rasa_port=port, var_dir=work, services=[self.service])

    def start(self, timeout: float) -> None:
        assert self.service.log_path is not None
        with self.service.log_path.open("ab") as log:
            self.service.process = subprocess.Popen(
                self.service.command,
                cwd=ROOT,  # rasa_addons (config.yml's custom components) is imported from here
                env={**os.environ, **self.service.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches its children
            )
        self.stack.wait_ready(timeout)

    def stop(self) -> None:
        self.stack.stop()

    def parse(self, text: str) -> dict[str, Any]:
        token = urllib.parse.quote(self.token, safe="")
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/model/parse?token={token}",
            data=json.dumps({"text": text}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            return dict(json.loads(resp.read()))


def provenance(model: Path = MODEL) -> dict[str, Any]:
    """Which code and model were benchmarked."""
    import datetime as dt

    def git(*args: str) -> str:
        try:
            run = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        except OSError:
            return ""
        return run.stdout.strip()

    mtime = dt.datetime.fromtimestamp(model.stat().st_mtime, dt.UTC).isoformat() if model.exists() else None
    return {
        "git_head": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "model": str(model.relative_to(ROOT) if model.is_relative_to(ROOT) else model),
        "model_mtime": mtime,
    }


def main(argv: list[str] | None = None) -> int:
    from assistant.benchout import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--phrasings", type=Path, default=PHRASINGS)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Rasa's port if free (%(default)s)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for Rasa to start")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"no trained model at {args.model}: run `make train`", file=sys.stderr)
        return 1
    phrasings_path = args.phrasings.resolve()
    phrasings = load_phrasings(phrasings_path)

    def on_signal(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    startup = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-intents-") as tmp:
        rasa = Rasa(Path(tmp), free_port(args.port), args.model.resolve())
        try:
            rasa.start(args.timeout)
            startup = time.perf_counter() - started
            for intent, texts in phrasings.items():
                for text in texts:
                    rows.append({"text": text, "expected": intent, "parsed": rasa.parse(text)})
                print(f"[bench] {intent}: {len(texts)} phrasings", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except (RuntimeError, TimeoutError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            with contextlib.suppress(Exception):
                rasa.stop()
    parse_seconds = time.perf_counter() - started - startup
    summary: dict[str, Any] = {"benchmark": "intents"}
    summary.update(score(rows))
    summary.update(
        {
            "phrasing_file": str(
                phrasings_path.relative_to(ROOT) if phrasings_path.is_relative_to(ROOT) else phrasings_path
            ),
            "settings": {"fallback": fallback_settings(), "never_a_question": list(NEVER_A_QUESTION)},
            "provenance": provenance(args.model.resolve()),
            "definitions": DEFINITIONS,
            "startup_seconds": round(startup, 1),
            "parse_ms_mean": round(1000 * parse_seconds / max(1, len(rows)), 1),
            "elapsed_seconds": round(time.perf_counter() - started, 1),
        }
    )
    report(summary, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
