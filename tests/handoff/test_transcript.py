from assistant.handoff.transcript import transcript_from_events

EVENTS = [
    {"event": "action", "name": "action_session_start"},
    {
        "event": "user",
        "text": "my card hasn't arrived",
        "timestamp": 1.0,
        "parse_data": {"intent": {"name": "ask_question", "confidence": 0.97123}},
    },
    {"event": "bot", "text": "Cards arrive within 3-5 working days.", "timestamp": 2.0, "data": {}},
    {
        "event": "bot",
        "text": None,
        "timestamp": 2.1,
        "data": {
            "custom": {"data": {"kb": {"article_id": "card_arrival", "score": 0.81, "decision": "answer"}}}
        },
    },
    {"event": "slot", "name": "stage", "value": "information_gathering"},
    {
        "event": "user",
        "text": "talk to a person",
        "timestamp": 3.0,
        "parse_data": {"intent": {"name": "request_human", "confidence": 0.99}},
    },
    {"event": "bot", "text": "", "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}},
]


def test_turns_are_annotated_with_intent_and_article():
    turns = transcript_from_events(EVENTS)
    assert [t["role"] for t in turns] == ["user", "bot", "user", "bot"]
    assert turns[0]["intent"] == "ask_question" and turns[0]["confidence"] == 0.9712
    assert turns[1]["text"].startswith("Cards arrive")
    assert turns[1]["article_id"] == "card_arrival" and turns[1]["score"] == 0.81
    assert turns[2]["intent"] == "request_human"
    assert turns[3]["buttons"] == ["Yes"]


def test_empty_events():
    assert transcript_from_events([]) == []


def test_a_clicked_button_reads_as_its_title_and_a_persons_message_as_an_agent_turn():
    turns = transcript_from_events(
        [
            {
                "event": "user",
                "text": '/choose{"choice": "cust-ava-payee2"}',
                "metadata": {"shown": "Mum"},
                "parse_data": {"intent": {"name": "choose", "confidence": 1.0}},
            },
            {
                "event": "bot",
                "text": "",
                "data": {"custom": {"data": {"agent": {"name": "Sam"}, "text": "Hi"}}},
            },
        ]
    )
    assert turns[0]["text"] == "Mum" and turns[0]["intent"] == "choose"
    assert turns[1] == {"role": "agent", "text": "Hi", "timestamp": None, "agent": "Sam"}
