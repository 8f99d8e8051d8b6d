"""Reading a message for every field of a form, over the real data/forms.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.conversation.forms import Option, load_forms
from assistant.conversation.understand import looks_like_question, read
from assistant.kb.articles import ArticleError

ROOT = Path(__file__).resolve().parents[2]
SPEC = load_forms(ROOT / "data" / "forms.yml")
PAYEES = [
    Option("p-sam", "Sam Carter", "Sam Carter (20-45-12, ****6819)", ("sam", "carter")),
    Option("p-mum", "Mum", "Mum (04-00-04, ****7788)", ("mum",)),
    Option("p-alex", "Alex Kim", "Alex Kim", ("alex", "kim")),
]
CARDS = [
    Option("c-phys", "Physical card ending 4821", "4821", ("physical card", "physical", "plastic")),
    Option("c-virt", "Virtual card ending 7730", "7730", ("virtual card", "virtual", "digital")),
]


def fields(*names: str):
    return [SPEC.fields[n] for n in names]


TRANSFER = fields("transfer_payee", "transfer_amount", "transfer_confirm")
FREEZE = fields("freeze_card_id", "freeze_reason", "freeze_confirm")
ORDER = fields("card_kind", "card_delivery", "order_confirm")


def transfer(text: str, asked: str | None = None, **current: str):
    return read(text, TRANSFER, SPEC, asked=asked, current=current, choices={"transfer_payee": PAYEES})


def freeze(text: str, asked: str | None = None, **current: str):
    return read(text, FREEZE, SPEC, asked=asked, current=current, choices={"freeze_card_id": CARDS})


@pytest.mark.parametrize(
    ("text", "payee", "amount"),
    [
        ("send £20 to my mum", "p-mum", "20.00"),
        ("gotta send my mother 40 quid", "p-mum", "40.00"),
        ("send money to Sam Carter", "p-sam", None),
        ("pay my brother Alex a tenner", "p-alex", "10.00"),
        ("transfer money", None, None),
    ],
)
def test_the_opening_request_fills_what_it_names(text, payee, amount) -> None:
    values = transfer(text).values
    assert values.get("transfer_payee") == payee
    assert values.get("transfer_amount") == amount
    assert "transfer_confirm" not in values  # never confirmed by an opening


def test_a_value_for_another_field_is_kept_and_a_correction_replaces() -> None:
    # the amount typed while the payee is asked
    assert transfer("25", asked="transfer_payee").values == {"transfer_amount": "25.00"}
    # at the confirmation: a new amount, no yes
    reading = transfer("actually make it 30", asked="transfer_confirm", transfer_amount="40.00")
    assert reading.values == {"transfer_amount": "30.00"}
    # "Sam not mum": the negated name is not the one meant
    reading = transfer("oh sorry, thats meant to go to Sam not mum", asked="transfer_confirm")
    assert reading.values == {"transfer_payee": "p-sam"}


def test_change_a_field_by_name_and_confirm_only_in_words() -> None:
    assert transfer("can I change the amount", asked="transfer_confirm").change == "transfer_amount"
    assert transfer("yep go ahead", asked="transfer_confirm").values == {"transfer_confirm": "yes"}
    assert transfer("no thanks", asked="transfer_confirm").values == {"transfer_confirm": "no"}
    assert transfer("1", asked="transfer_confirm").values == {}  # a bare number is not a yes
    # a hedge, a question or a long story is not a yes, even with "send it" in it
    for held_back in (
        "before you send it can I ask someone about his account",
        "ok but is it instant?",
        "wait, send it tomorrow maybe",
    ):
        assert transfer(held_back, asked="transfer_confirm").values == {}, held_back
    assert transfer("ok great, yes send it", asked="transfer_confirm").values == {"transfer_confirm": "yes"}
    assert transfer("no, hold on", asked="transfer_confirm").values == {"transfer_confirm": "no"}


def test_cards_by_digits_description_and_the_other_one() -> None:
    assert freeze("the plastic one", asked="freeze_card_id").values == {"freeze_card_id": "c-phys"}
    assert freeze("the one ending 30", asked="freeze_card_id").values == {"freeze_card_id": "c-virt"}
    assert freeze("4821", asked="freeze_card_id").values == {"freeze_card_id": "c-phys"}
    other = freeze("not that card, the other one", asked="freeze_confirm", freeze_card_id="c-phys")
    assert other.values == {"freeze_card_id": "c-virt"}
    # the opening names the reason too
    assert freeze("my virtual card was stolen").values == {
        "freeze_card_id": "c-virt",
        "freeze_reason": "stolen",
    }


def test_choices_out_of_order_and_questions_mid_form() -> None:
    order = read("a plastic one please, express", ORDER, SPEC, asked="card_kind", current={})
    assert order.values == {"card_kind": "physical", "card_delivery": "express"}
    # a question about an option is not a choice of it
    question = read("how much is express delivery?", ORDER, SPEC, asked="card_kind", current={})
    assert question.values == {} and looks_like_question("how much is express delivery?")
    assert read("express?", ORDER, SPEC, asked="card_delivery", current={}).values == {
        "card_delivery": "express"
    }


def test_another_currency_is_not_taken() -> None:
    reading = transfer("€30", asked="transfer_amount")
    assert reading.values == {} and reading.currency == "EUR"


def test_a_broken_forms_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "forms.yml"
    bad.write_text("fields:\n  card_kind:\n    kind: choise\n    label: card\n", encoding="utf-8")
    with pytest.raises(ArticleError) as exc:
        load_forms(bad)
    assert [(p.line, "kind" in p.message) for p in exc.value.problems] == [(3, True)]


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("Can you pay Sam Carter for me please? It's for the bills.", "transfer_form"),
        ("pls send alex 20", "transfer_form"),
        ("left it on the train, block my card", "freeze_card_form"),
        ("could you lock the card for now", "freeze_card_form"),
        ("I'd like a virtual card for shopping online", "order_card_form"),
        ("can you post me a spare card with express delivery", "order_card_form"),  # the speed is part of it
        ("where's my new card delivery at", None),
        ("how do I freeze my card?", None),  # a how-to question goes to the knowledge base
        ("my new card still hasn't arrived", None),
        ("what are your transfer fees", None),
        ("send money abroad, what does it cost?", None),
    ],
)
def test_a_transaction_asked_for_in_words_nlu_may_miss(text, task) -> None:
    from assistant.conversation.understand import requested_task

    assert requested_task(text, TRANSFER, SPEC, PAYEES) == task


def test_a_question_mid_form_picks_no_card_but_a_request_does() -> None:
    question = freeze("how long will a new one take to get to me?", asked="freeze_card_id")
    assert question.values == {}
    assert freeze("can you freeze the plastic one", asked="freeze_card_id").values == {
        "freeze_card_id": "c-phys"
    }
    order = read("could you make it express?", ORDER, SPEC, asked="card_delivery", current={})
    assert order.values == {"card_delivery": "express"}


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("don't send it", "no"),
        ("no don't do it", "no"),
        ("stop, don't do it", "no"),
        ("yes... no, hold on", None),  # both: neither, ask again
        ("yes please", "yes"),
        ("go on then", "yes"),  # everyday yeses
        ("aye that's fine", "yes"),
        ("that is not fine by me", None),  # a negated yes: ask again
    ],
)
def test_a_negated_yes_is_never_a_yes(text, answer) -> None:
    assert transfer(text, asked="transfer_confirm").values.get("transfer_confirm") == answer


def test_what_a_message_rules_out_or_merely_counts_is_not_taken() -> None:
    assert freeze("I lost it, not the virtual one", asked="freeze_card_id").values == {
        "freeze_card_id": "c-phys",
        "freeze_reason": "lost",
    }
    assert "transfer_amount" not in transfer("pay mum for the 2 concert tickets").values
    assert transfer("pay mum 20 for the tickets").values["transfer_amount"] == "20.00"


@pytest.mark.parametrize(
    "text",
    [
        "can you cancel my card order?",
        "i want to cancel a card payment",
        "I need a new card PIN",
        "could you send me a new card reader",
        "can I send 50 euros to France?",
    ],
)
def test_questions_that_only_sound_like_a_transaction_start_none(text) -> None:
    from assistant.conversation.understand import requested_task

    assert requested_task(text, TRANSFER, SPEC, PAYEES) is None
