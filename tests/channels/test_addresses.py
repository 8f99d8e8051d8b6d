"""Twilio senders as conversation ids that need no quoting in Rasa's HTTP API paths."""

from __future__ import annotations

import urllib.parse

import pytest

from assistant.channels.addresses import twilio_address, twilio_conversation


@pytest.mark.parametrize(
    ("address", "conversation"),
    [
        ("whatsapp:+447700900123", "whatsapp-447700900123"),
        ("+447700900123", "sms-447700900123"),
        ("messenger:+123456", "messenger-123456"),
    ],
)
def test_there_and_back(address, conversation):
    assert twilio_conversation(address) == conversation
    assert twilio_address(conversation) == address
    assert urllib.parse.quote(conversation, safe="") == conversation  # nothing to quote


def test_anything_else_is_left_alone():
    assert twilio_conversation("client:alice") == "client:alice"
    assert twilio_address("stage-1234abcd") == "stage-1234abcd"
