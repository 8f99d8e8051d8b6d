"""Strict reading of the ``/intent{"entity": "value"}`` messages that buttons send.

Anything a customer can send that starts with "/" is read here before Rasa's NLU sees it. Rasa
itself would run its whole pipeline (DIET's transformer grows with the square of the length) on
any such text and only then look for a payload. Here a payload must be short, name an intent
that buttons are allowed to send, and carry only the entities that intent takes, each a short
plain value. Everything else is refused, with a reason code for the logs.

Pure Python (no Rasa import), so the web app and the tests can use the same rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "/"
PAYLOAD = re.compile(r"/(?P<intent>[A-Za-z][A-Za-z0-9_]{0,63})(?P<entities>\{.*\})?", re.DOTALL)

# Reasons a payload is refused.
TOO_LONG = "payload_too_long"
SYNTAX = "payload_syntax"
UNKNOWN_INTENT = "payload_unknown_intent"
BAD_ENTITIES = "payload_bad_entities"


def is_payload(text: str) -> bool:
    return text.lstrip().startswith(PREFIX)


@dataclass(frozen=True)
class PayloadRules:
    """Which payloads customers may send: intent -> the entity names it may carry."""

    intents: Mapping[str, frozenset[str]]
    max_chars: int = 500
    max_value_chars: int = 200

    def __post_init__(self) -> None:
        if self.max_chars < 2 or self.max_value_chars < 1:
            raise ValueError("payload max_chars must be at least 2 and max_value_chars at least 1")
        for intent in self.intents:
            if not PAYLOAD.fullmatch(PREFIX + intent):
                raise ValueError(f"payload intent {intent!r} is not a plain intent name")

    @classmethod
    def from_config(
        cls, payloads: Mapping[str, Any] | None, *, max_chars: int = 500, max_value_chars: int = 200
    ) -> PayloadRules:
        """``payloads``: ``{intent: [entity, ...]}`` as written in config.yml (``[]`` or null: none)."""
        if payloads is None:
            payloads = {}
        if not isinstance(payloads, Mapping):
            raise ValueError("payloads must map each intent to the list of its entities")
        intents: dict[str, frozenset[str]] = {}
        for intent, entities in payloads.items():
            if entities is None:
                entities = []
            if not isinstance(entities, list) or not all(isinstance(e, str) for e in entities):
                raise ValueError(f"payloads.{intent} must be a list of entity names")
            intents[str(intent)] = frozenset(entities)
        return cls(intents, max_chars=int(max_chars), max_value_chars=int(max_value_chars))

    def problem(self, text: str) -> str | None:
        """None when ``text`` is an allowed payload, else the reason it is refused."""
        text = text.strip()
        if len(text) > self.max_chars:
            return TOO_LONG
        match = PAYLOAD.fullmatch(text)
        if match is None:
            return SYNTAX
        allowed = self.intents.get(match["intent"])
        if allowed is None:
            return UNKNOWN_INTENT
        if match["entities"] is None:
            return None
        try:
            entities = json.loads(match["entities"])
        except ValueError:
            return SYNTAX
        if not isinstance(entities, dict):
            return SYNTAX
        for name, value in entities.items():
            if name not in allowed:
                return BAD_ENTITIES
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                return BAD_ENTITIES
            if len(str(value)) > self.max_value_chars:
                return BAD_ENTITIES
        return None
