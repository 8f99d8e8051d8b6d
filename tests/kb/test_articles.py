from pathlib import Path

import pytest

from assistant.kb.articles import ArticleError, load_articles, parse_article
from tests.conftest import CARD_ARRIVAL, ROOT, write_articles


def test_parses_front_matter_and_body():
    article = parse_article(CARD_ARRIVAL, "card_arrival.md")
    assert article.id == "card_arrival"
    assert article.title == "My card hasn't arrived yet"
    assert article.questions == ("Why hasn't my new card arrived?", "I'm still waiting for my card")
    assert article.related == ("lost_or_stolen_card",)
    assert article.summary.startswith("Cards arrive within 3-5 working days")
    assert [s.heading for s in article.sections] == ["", "What to do"]


def test_content_hash_changes_with_the_body():
    a = parse_article(CARD_ARRIVAL, "a.md")
    b = parse_article(CARD_ARRIVAL.replace("3-5", "2-4"), "a.md")
    assert a.content_hash != b.content_hash


def test_broken_yaml_names_file_and_line():
    text = "---\nid: x\ntitle: [unclosed\ncategory: Cards\n---\nBody.\n"
    with pytest.raises(ArticleError) as err:
        parse_article(text, "data/kb/x.md")
    problem = err.value.problems[0]
    assert problem.path == "data/kb/x.md"
    assert problem.line in (3, 4)  # the line of the unclosed list, or where YAML noticed it
    assert str(problem).startswith(f"data/kb/x.md:{problem.line}: invalid YAML")


def test_missing_fields_and_unknown_fields_are_reported_with_their_lines():
    text = "---\nid: x\ncategory: Cards\ncolour: blue\n---\nBody.\n"
    with pytest.raises(ArticleError) as err:
        parse_article(text, "x.md")
    messages = {(p.line, p.message) for p in err.value.problems}
    assert (4, "unknown field 'colour'") in messages
    assert any("missing or empty 'title'" in m for _, m in messages)


def test_body_must_open_with_the_answer():
    with pytest.raises(ArticleError, match="lead paragraph"):
        parse_article("---\nid: x\ntitle: T\ncategory: C\n---\n## Heading\ntext\n", "x.md")


def test_no_front_matter():
    with pytest.raises(ArticleError, match=r"x\.md:1: file must start"):
        parse_article("Just text", "x.md")


def test_load_reports_every_broken_file_at_once(tmp_path: Path):
    folder = write_articles(
        tmp_path,
        {
            "a.md": "---\nid: a\ntitle: A\ncategory: C\nrelated: [nope]\n---\nBody a.\n",
            "b.md": "---\nid: a\ntitle: B\ncategory: C\n---\nBody b.\n",
            "c.md": "no front matter",
        },
    )
    with pytest.raises(ArticleError) as err:
        load_articles(folder)
    text = str(err.value)
    assert "related article 'nope' does not exist" in text
    assert "duplicate id 'a'" in text
    assert "c.md:1: file must start" in text
    assert f"{folder / 'a.md'}:5:" in text  # the line holding the unknown related id


def test_the_demo_knowledge_base_is_valid_and_covers_banking77():
    import json

    articles = {a.id: a for a in load_articles(ROOT / "data" / "kb")}
    topics = json.loads((ROOT.parent / "shared" / "datasets" / "banking77" / "categories.json").read_text())
    missing = [t for t in topics if t not in articles]
    assert not missing, f"topics without an article: {missing}"
    for topic in topics:
        article = articles[topic]
        assert 1 <= len(article.questions) <= 10
        assert len(article.summary) > 40, f"{topic} has no real lead answer"
        assert "TODO" not in article.body
    assert len(articles) > len(topics), "articles about the bank itself are missing"
