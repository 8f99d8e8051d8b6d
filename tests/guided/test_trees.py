"""The troubleshooting trees: the real ones load, and every kind of editor mistake is reported
with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.guided.trees import CONFIRM_NODE, FORM, HANDOFF, RESOLVED, load_trees
from assistant.kb.articles import ArticleError, load_articles

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"card_declined", "transfer_not_received", "app_login", "top_up_failed", "card_not_arrived"}

GOOD = """\
id: demo
title: Demo problem
triggers: [demo thing broke]
articles: [card_arrival]
start: where
nodes:
  where:
    question: Where did it happen?
    options:
      - label: In a shop
        match: [shop, store, till]
        next: fixed
      - label: Online
        match: [online, website]
        next: person
  fixed:
    answer: Do this and it works.
    outcome: resolved
  person:
    answer: A person must look.
    outcome: handoff
"""


def write(tmp_path: Path, text: str, name: str = "demo.yml") -> Path:
    folder = tmp_path / "trees"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def problems(tmp_path: Path, text: str, articles: set[str] | None = None) -> list[str]:
    with pytest.raises(ArticleError) as exc:
        load_trees(write(tmp_path, text), articles if articles is not None else {"card_arrival"})
    return [str(p) for p in exc.value.problems]


def test_the_real_trees_load_and_cover_the_required_problems() -> None:
    articles = {a.id for a in load_articles(ROOT / "data" / "kb")}
    trees = load_trees(ROOT / "data" / "troubleshooting", articles)
    assert set(trees.trees) >= REQUIRED
    for tree in trees:
        outcomes = {n.outcome for n in tree.nodes.values() if n.is_leaf}
        assert RESOLVED in outcomes and HANDOFF in outcomes, tree.id
    assert any(n.outcome == FORM for t in trees for n in t.nodes.values())


def test_a_good_tree_walks_from_buttons_and_from_words(tmp_path: Path) -> None:
    tree = load_trees(write(tmp_path, GOOD), {"card_arrival"}).get("demo")
    assert tree is not None
    assert tree.choose("where", "fixed").next == "fixed"  # a button sends the next node id
    assert tree.choose("where", "it was at the till in a store").next == "fixed"
    assert tree.choose("where", "on a website").next == "person"
    assert tree.choose("where", "2").next == "person"
    assert tree.choose("where", "the first one").next == "fixed"
    assert tree.choose("where", "no idea really") is None
    assert tree.choose(CONFIRM_NODE, "yes it did").next == "yes"
    assert tree.choose(CONFIRM_NODE, "nope, still broken").next == "no"


def test_tree_is_picked_from_the_customers_words(tmp_path: Path) -> None:
    trees = load_trees(write(tmp_path, GOOD), {"card_arrival"})
    assert trees.pick("the demo thing broke again").id == "demo"
    assert trees.pick("demo").id == "demo"
    assert trees.for_article("card_arrival").id == "demo"


def test_unknown_links_are_reported_with_their_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("next: person", "next: nobody"))
    assert any(":15: " in p and "unknown node 'nobody'" in p for p in found), found


def test_unknown_article_and_form(tmp_path: Path) -> None:
    text = GOOD.replace("articles: [card_arrival]", "articles: [no_such_article]").replace(
        "    outcome: handoff", "    outcome: form\n    form: open_a_bakery"
    )
    found = problems(tmp_path, text)
    assert any(":4: unknown article 'no_such_article'" in p for p in found), found
    assert any("unknown form 'open_a_bakery'" in p for p in found), found


def test_unreachable_node(tmp_path: Path) -> None:
    text = GOOD + "  orphan:\n    answer: Nobody gets here.\n    outcome: resolved\n"
    found = problems(tmp_path, text)
    assert any(":22: node 'orphan' cannot be reached" in p for p in found), found


def test_cycle(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  fixed:\n    answer: Do this and it works.\n    outcome: resolved\n",
        "  fixed:\n    question: Again?\n    options:\n      - label: Back\n        next: where\n"
        "      - label: On\n        next: person\n",
    )
    found = problems(tmp_path, text)
    assert any("cycle: where → fixed → where" in p for p in found), found


def test_missing_answers_and_questions(tmp_path: Path) -> None:
    text = GOOD.replace("    answer: Do this and it works.\n", "").replace(
        "    question: Where did it happen?\n", ""
    )
    found = problems(tmp_path, text)
    assert any("node 'fixed' is a leaf (no options) but has no answer" in p for p in found), found
    assert any("node 'where' has options but no question" in p for p in found), found


def test_unknown_key_and_wrong_id(tmp_path: Path) -> None:
    text = GOOD.replace("id: demo", "id: other").replace("triggers:", "colour: blue\ntriggers:")
    found = problems(tmp_path, text)
    assert any("must equal the file name 'demo'" in p for p in found), found
    assert any(":3: unknown key 'colour'" in p for p in found), found


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("  fixed:\n", "  fixed: [\n"))
    assert len(found) == 1 and "demo.yml:" in found[0] and "invalid YAML" in found[0]
