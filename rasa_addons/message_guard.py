"""Refuse oversized messages before they are understood, not after.

Used twice in config.yml's pipeline:
- first, with ``mode: truncate``: a message longer than ``max_chars`` is cut to that length, so
  the tokenizers and classifiers never work on megabytes of text, and it is marked oversized;
- last, with ``mode: classify``: a marked message gets the intent ``message_too_long`` with full
  confidence, whatever the classifier thought, and a rule answers it politely.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

OVERSIZED = "oversized"
TOO_LONG_INTENT = "message_too_long"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class MessageGuard(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_chars": 1000, "mode": "truncate"}

    def __init__(self, config: dict[str, Any]) -> None:
        self.max_chars = int(config["max_chars"])
        self.mode = config["mode"]
        if self.mode not in ("truncate", "classify"):
            raise ValueError("MessageGuard mode must be 'truncate' or 'classify'")
        if self.max_chars < 1:
            raise ValueError("MessageGuard max_chars must be positive")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageGuard:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if self.mode == "truncate":
                if len(text) > self.max_chars and not text.startswith("/"):
                    message.set(TEXT, text[: self.max_chars])
                    message.set(OVERSIZED, True, add_to_output=True)
            elif message.get(OVERSIZED):
                intent = {"name": TOO_LONG_INTENT, "confidence": 1.0}
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        return training_data
