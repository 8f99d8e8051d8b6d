from assistant.kb.articles import parse_article
from assistant.kb.passages import spacy_sentences, split_article
from tests.conftest import CARD_ARRIVAL


def test_spacy_sentencizer_splits_sentences():
    assert spacy_sentences("Freeze the card. Then order a new one! Done?") == [
        "Freeze the card.",
        "Then order a new one!",
        "Done?",
    ]


def test_article_becomes_title_question_and_body_passages_with_heading_context():
    passages = split_article(parse_article(CARD_ARRIVAL, "a.md"))
    kinds = [p.kind for p in passages]
    assert kinds.count("title") == 1
    assert kinds.count("question") == 2
    body = [p for p in passages if p.kind == "body"]
    assert body[0].heading == "My card hasn't arrived yet"
    assert body[0].text.startswith("Cards arrive within")
    listed = [p for p in body if p.heading == "What to do"]
    assert [p.text for p in listed] == [
        "Check Card -> Delivery for the dispatch date.",
        "After 10 working days we cancel it and send a new one for free.",
    ]
    assert listed[0].embed_text.startswith("My card hasn't arrived yet - What to do: ")
