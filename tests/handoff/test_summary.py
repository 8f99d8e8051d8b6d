"""The extractive handoff summary: the customer's most informative words, what was shown, where
they were and why."""

from assistant.handoff.summary import summarise

TRANSCRIPT = [
    {"role": "user", "text": "hi", "intent": "greet"},
    {"role": "bot", "text": "Hello!"},
    {
        "role": "user",
        "text": "my card was charged twice at the petrol station yesterday",
        "intent": "ask_question",
    },
    {"role": "bot", "text": "...", "article_id": "transaction_charged_twice", "score": 0.8},
    {"role": "user", "text": '/choose{"choice": "lost"}', "intent": "choose"},
    {"role": "user", "text": "it still shows both payments", "intent": "ask_question"},
    {"role": "user", "text": "talk to a person", "intent": "request_human"},
]


def test_summary_quotes_the_informative_turns_and_gives_the_context():
    text = summarise(
        TRANSCRIPT,
        reason="customer_request_in_freeze_card_form",
        stage="transaction",
        slots={"active_form": "freeze_card_form", "requested_slot": "freeze_reason"},
    )
    assert text.startswith(
        "Customer said: “my card was charged twice at the petrol station yesterday”; “it still"
    )
    assert "Shown: transaction_charged_twice." in text
    assert "Stage: transaction, in freeze card form (asked for freeze reason)." in text
    assert text.endswith("Reason: customer request in freeze card form.")
    assert "hi" not in text.split("Customer said:")[1].split(".")[0].split("“")[0]


def test_summary_of_a_tree_names_the_path():
    text = summarise(
        [], reason="tree_unresolved", stage="troubleshooting", slots={"tree_path": ["Q1 → A", "Q2 → B"]}
    )
    assert text == "Stage: troubleshooting. Guided path: Q1 → A / Q2 → B. Reason: tree unresolved."


def test_priority_for_self_service_tried_first_and_high_value():
    from assistant.handoff.summary import priority

    assert priority([], reason="customer_request", slots={}) == 0
    assert priority(TRANSCRIPT, reason="customer_request", slots={}) == 1  # an article was shown
    assert priority([], reason="sales", slots={"active_form": "product_needs_form"}) == 1
    assert priority([], reason="customer_request", slots={"segment": "premium"}) == 1
    typed_payloads = [
        {"role": "user", "text": '/show_article{"article_id": "card_arrival"}'},
        {"role": "bot", "text": "…", "article_id": "card_arrival", "decision": "selected"},
        {"role": "user", "text": "/request_sales"},
    ]
    assert priority(typed_payloads, reason="sales", slots={}) == 0  # nothing typed raises it
