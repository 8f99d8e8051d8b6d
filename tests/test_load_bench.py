"""The pure parts of bench/load_bench.py: percentiles, a step's summary, the targets, CPU from
/proc. No stack is started."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


def _load() -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    path = ROOT / "bench" / "load_bench.py"
    spec = importlib.util.spec_from_file_location("load_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lb = _load()


def test_percentiles_are_nearest_rank():
    samples = [float(n) for n in range(1, 101)]
    assert lb.percentile(samples, 50) == 50.0
    assert lb.percentile(samples, 95) == 95.0
    assert lb.percentile(samples, 99) == 99.0
    assert lb.percentile([], 95) is None
    assert lb.percentile([0.3], 99) == 0.3


def _step(turns: list[tuple[str, float]], timeouts: int = 0, customers: int = 2) -> Any:
    step = lb.Step("ceiling-2", "socketio", customers, (1, 3), seconds=10.0)
    step.results = [
        lb.Customer(sender="a", sent=["x"] * len(turns), turns=turns, timeouts=timeouts, connect_seconds=0.1),
        lb.Customer(sender="b", connect_seconds=0.2, errors=["ConnectionClosed: gone"]),
    ]
    return step


def test_a_step_summary_counts_turns_kinds_errors_and_losses():
    lost = {"sent_not_recorded": 0, "bot_messages_not_delivered": 0}
    summary = lb.summarise_step(_step([("greeting", 0.1), ("kb", 0.4), ("kb", 0.6)]), lost)
    assert summary["turns"] == 3 and summary["turns_per_second"] == 0.3
    assert summary["by_kind"]["kb"]["n"] == 2 and summary["by_kind"]["greeting"]["p50"] == 0.1
    assert summary["errors"] == 1 and summary["error_examples"] == ["ConnectionClosed: gone"]
    assert summary["meets_p95_1s"] is False  # an error counts against the target
    clean = lb.summarise_step(lb.Step("ceiling-1", "socketio", 1, (1, 3), seconds=1.0), lost)
    assert clean["meets_p95_1s"] is False  # no turns: nothing was shown to be fast


def test_the_targets_read_the_typing_step_and_the_best_ceiling():
    ok = {"sent_not_recorded": 0, "bot_messages_not_delivered": 0}
    fast = lb.Step("x", "socketio", 1, (1, 3), seconds=1.0)
    fast.results = [lb.Customer(sender="a", sent=["x"], turns=[("kb", 0.2)])]
    steps = {
        "typing-200": lb.summarise_step(lb.Step("typing-200", "socketio", 200, (10, 20), seconds=1.0), ok),
        "ceiling-50": {**lb.summarise_step(fast, ok), "customers": 50},
        "ceiling-100": {**lb.summarise_step(_step([("kb", 3.0)] * 20), ok), "customers": 100},
    }
    targets = lb.targets(steps)
    assert targets["ceiling"]["customers_at_p95_1s"] == 50
    assert targets["ceiling"]["raised"] is True  # 50 > the 25 measured before
    assert targets["200_typing_customers"]["met"] is False
    assert targets["nothing_lost"] is True
    steps["ceiling-50"]["lost"] = {"sent_not_recorded": 1, "bot_messages_not_delivered": 0}
    assert lb.targets(steps)["nothing_lost"] is False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_cpu_time_is_read_from_proc():
    before = lb.cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    assert lb.cpu_seconds(os.getpid()) >= before > 0 or before == 0
    assert lb.cpu_seconds(2**22 + 12345) == 0.0  # no such process
