"""Typed answers: what customers wrote for each option teaches the question's matcher, and the
file editors keep is checked with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.guided.answers import NONE, load_typed_answers, split
from assistant.guided.catalog import load_catalog
from assistant.guided.trees import load_trees
from assistant.kb.articles import ArticleError
from tests.guided.test_trees import GOOD, write

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES = """\
trees:
  demo:
    where:
      fixed:
        - "i was standing at the checkout with my basket"
        - "paying for groceries at the counter"
        - "in sainsburys buying milk"
        - "at the market stall, tapped my card"
        - "buying a coffee at the cafe on the corner"
      person:
        - "ordering trainers from a web page"
        - "checking out on amazon"
        - "buying concert tickets through an app on my laptop"
        - "an internet purchase from a clothes site"
        - "paying for a subscription on my phone"
      "null":
        - "what's your phone number"
        - "i want to change my address"
        - "how do i close my account"
"""


def test_the_projects_typed_answers_cover_every_question_and_load() -> None:
    trees = load_trees(ROOT / "data" / "troubleshooting")
    catalog = load_catalog(ROOT / "data" / "products.yml", ROOT / "data" / "cases.yml")
    answers = load_typed_answers(ROOT / "data" / "typed_answers.yml", trees, catalog)
    questions = {(t.id, n.id) for t in trees for n in t.nodes.values() if n.options}
    assert set(answers.trees) == questions
    assert set(answers.needs) == set(catalog.needs)
    train, val = split(answers)
    assert len(train) + len(val) == len(answers) and 0.1 < len(val) / len(answers) < 0.3
    assert split(answers)[1] == val  # the same split every time


def test_examples_teach_the_question_what_customers_mean(tmp_path: Path, encoder) -> None:
    trees = load_trees(write(tmp_path, GOOD), {"card_arrival"})
    (tmp_path / "typed.yml").write_text(EXAMPLES, encoding="utf-8")
    taught = trees.with_answers(load_typed_answers(tmp_path / "typed.yml", trees)).get("demo")
    plain = trees.get("demo")
    said = "getting bread and milk at the local supermarket"  # no listed word of the option
    assert plain.choose("where", said) is None  # the words alone can't tell
    assert taught.choose("where", said, encoder).next == "fixed"
    assert taught.choose("where", "bought a jacket off a website").next == "person"  # phrases still count
    assert taught.choose("where", "bought a jacket through a site on my laptop", encoder).next == "person"
    # an answer like the ones that fit no option picks nothing: the question is asked again
    assert taught.choose("where", "how do i change my phone number", encoder) is None
    assert taught.choose("where", "fixed").next == "fixed"  # buttons are untouched


def test_mistakes_in_the_typed_answers_are_reported_with_their_line(tmp_path: Path) -> None:
    trees = load_trees(write(tmp_path, GOOD), {"card_arrival"})
    broken = (
        EXAMPLES.replace("      person:\n", "      nobody:\n").replace(
            '        - "paying for groceries at the counter"\n', "        - 42\n"
        )
        + "  other_tree:\n    x:\n      y: []\n"
        + "colour: blue\n"
    )
    (tmp_path / "typed.yml").write_text(broken, encoding="utf-8")
    with pytest.raises(ArticleError) as exc:
        load_typed_answers(tmp_path / "typed.yml", trees)
    found = [str(p) for p in exc.value.problems]
    assert any(":10: 'demo.where' has no option 'nobody'" in p for p in found), found
    assert any(":6: demo.where.fixed: answer 2 must be a text" in p for p in found), found
    assert any(":20: unknown tree 'other_tree'" in p for p in found), found
    assert any(":23: unknown key 'colour'" in p for p in found), found


def test_a_missing_file_teaches_nothing(tmp_path: Path) -> None:
    answers = load_typed_answers(tmp_path / "none.yml")
    assert len(answers) == 0 and NONE == "null"
