"""Refuse oversized and malformed messages before they are understood, not after.

Used twice in config.yml's pipeline:
- first, with ``mode: truncate``: a message longer than ``max_chars`` is cut to that length, so
  the tokenizers and classifiers never work on megabytes of text, and it is marked oversized.
  A message that starts with "/" is read strictly as a button payload
  (:mod:`rasa_addons.payloads`): an intent listed under ``payloads`` with only its entities,
  at most ``payload_max_chars`` long. Anything else that starts with "/" is marked refused and
  its slashes are dropped, so Rasa's own payload reader never takes it for a payload, and it is
  cut to ``max_chars`` like any text;
- last, with ``mode: classify``: a marked message gets the intent ``message_too_long`` or
  ``message_refused`` with full confidence, whatever the classifier thought, and a rule answers
  it politely.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from rasa_addons.component import ConfiguredStep
from rasa_addons.payloads import PayloadRules, is_payload

logger = logging.getLogger(__name__)

OVERSIZED = "oversized"
REFUSED = "refused"
TOO_LONG_INTENT = "message_too_long"
REFUSED_INTENT = "message_refused"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class MessageGuard(ConfiguredStep):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "max_chars": 1000,
            "mode": "truncate",
            "payload_max_chars": 500,
            "payload_value_max_chars": 200,
            "payloads": {},
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.max_chars = int(config["max_chars"])
        self.mode = config["mode"]
        if self.mode not in ("truncate", "classify"):
            raise ValueError("MessageGuard mode must be 'truncate' or 'classify'")
        if self.max_chars < 1:
            raise ValueError("MessageGuard max_chars must be positive")
        self.payloads = PayloadRules.from_config(
            config.get("payloads"),
            max_chars=config["payload_max_chars"],
            max_value_chars=config["payload_value_max_chars"],
        )

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if self.mode == "truncate":
                self._limit(message)
            elif message.get(REFUSED):
                self._classify(message, REFUSED_INTENT)
            elif message.get(OVERSIZED):
                self._classify(message, TOO_LONG_INTENT)
        return messages

    def _limit(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if is_payload(text):
            problem = self.payloads.problem(text)
            if problem is None:
                return
            logger.warning("refused a payload (%s, %d characters)", problem, len(text))
            message.set(TEXT, text.lstrip().lstrip("/")[: self.max_chars].strip() or "?")
            message.set(REFUSED, problem, add_to_output=True)
        elif len(text) > self.max_chars:
            message.set(TEXT, text[: self.max_chars])
            message.set(OVERSIZED, True, add_to_output=True)

    @staticmethod
    def _classify(message: Message, name: str) -> None:
        intent = {"name": name, "confidence": 1.0}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)
