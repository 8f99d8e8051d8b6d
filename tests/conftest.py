"""Shared fixtures: the real MiniLM encoder (loaded once), small article folders, real stores."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile",
        choices=("embedded", "production"),
        default="embedded",
        help="the stack the end-to-end tests run against: embedded (SQLite, one Rasa, `make run`)"
        " or production (PostgreSQL, Redis, RabbitMQ, two Rasa instances and two action servers,"
        " `make run-production`)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    profile = config.getoption("--profile")
    for item in items:
        wanted = item.get_closest_marker("profile")
        if wanted is not None and profile not in wanted.args:
            item.add_marker(pytest.mark.skip(reason=f"runs on the {'/'.join(wanted.args)} profile only"))

CARD_ARRIVAL = """\
---
id: card_arrival
title: My card hasn't arrived yet
category: Cards
questions:
  - Why hasn't my new card arrived?
  - I'm still waiting for my card
related: [lost_or_stolen_card]
---
Cards arrive within 3-5 working days in the UK. If yours is late, check the address in the app.

## What to do
- Check Card -> Delivery for the dispatch date.
- After 10 working days we cancel it and send a new one for free.
"""

LOST_CARD = """\
---
id: lost_or_stolen_card
title: My card was lost or stolen
category: Cards
questions:
  - I lost my card
  - Someone stole my card, what do I do?
---
Freeze your card straight away in the app under Card -> Freeze, then order a replacement.

## Replacing it
A replacement card costs £5 and arrives in 3-5 working days.
"""

EXCHANGE = """\
---
id: exchange_rate
title: Our exchange rates
category: Exchange
questions:
  - Which exchange rate do you apply?
  - How much will I get if I exchange pounds to euros?
---
We exchange at the interbank rate on weekdays, with a 1% markup at weekends.
"""


def write_articles(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture
def article_dir(tmp_path: Path) -> Path:
    return write_articles(
        tmp_path / "kb",
        {
            "cards/card_arrival.md": CARD_ARRIVAL,
            "cards/lost_or_stolen_card.md": LOST_CARD,
            "exchange/exchange_rate.md": EXCHANGE,
        },
    )


@pytest.fixture(scope="session")
def encoder():
    from assistant.kb.encoder import default_encoder

    return default_encoder(threads=1)


@pytest.fixture(scope="session")
def small_index(encoder, tmp_path_factory) -> Path:
    """A real index of the three articles above, built once for the session (read-only)."""
    from assistant.kb.build import build_from_source

    root = tmp_path_factory.mktemp("small_index")
    source = write_articles(
        root / "kb",
        {"card_arrival.md": CARD_ARRIVAL, "lost_or_stolen_card.md": LOST_CARD, "exchange_rate.md": EXCHANGE},
    )
    build_from_source(source, root / "index", lambda: encoder)
    return root / "index"


@pytest.fixture(scope="session")
def demo_kb(encoder, tmp_path_factory):
    """The real demo knowledge base (data/kb), built once for the session."""
    from assistant.kb.build import build_from_source
    from assistant.kb.index import load_index
    from assistant.kb.search import KnowledgeBase

    out = tmp_path_factory.mktemp("demo_index")
    build_from_source(
        ROOT / "data" / "kb",
        out,
        lambda: encoder,
        out_of_scope=ROOT / "data" / "calibration" / "out_of_scope.txt",
        vocabulary=ROOT / "data" / "vocabulary.yml",
    )
    return KnowledgeBase(load_index(out), encoder)


@pytest.fixture
def handoff_store(tmp_path: Path):
    from assistant.handoff.store import HandoffStore

    store = HandoffStore(f"sqlite:///{tmp_path / 'handoffs.db'}")
    yield store
    store.dispose()
