"""Conversation ids that survive every URL: a Twilio sender (``whatsapp:+447700900123``) becomes
``whatsapp-447700900123``. Rasa's HTTP API takes the conversation id in the path and Sanic does
not decode it, so a quoted ``:`` or ``+`` (as the web app's Rasa client sends them) would name
another, empty conversation, and a person's message would never reach WhatsApp. The output turns
the id back into the address to send to."""

from __future__ import annotations

import re

_TWILIO = re.compile(r"(?:(?P<kind>[a-z]+):)?\+?(?P<digits>\d{4,20})")


def twilio_conversation(address: str) -> str:
    """``whatsapp:+447700900123`` -> ``whatsapp-447700900123``; ``+447700900123`` (SMS) ->
    ``sms-447700900123``; anything else unchanged."""
    found = _TWILIO.fullmatch(address.strip())
    if found is None:
        return address
    return f"{found.group('kind') or 'sms'}-{found.group('digits')}"


def twilio_address(conversation: str) -> str:
    """The reverse of :func:`twilio_conversation`."""
    kind, dash, digits = conversation.partition("-")
    if not dash or not digits.isdigit() or not kind.isalpha():
        return conversation
    return f"+{digits}" if kind == "sms" else f"{kind}:+{digits}"
