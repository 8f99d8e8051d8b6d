"""A pipeline step after the classifier: :class:`rasa_addons.phrases.PhraseRules` from config.yml
overrule its intent where a miss is costly (asking for a person)."""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from rasa_addons.component import ConfiguredStep
from rasa_addons.phrases import PhraseRules

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentRules(ConfiguredStep):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"rules": {}, "keep": []}

    def __init__(self, config: dict[str, Any]) -> None:
        self.rules = PhraseRules.from_config(config.get("rules"), config.get("keep"))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            predicted = (message.get(INTENT) or {}).get("name")
            intent = self.rules.intent_for(message.get(TEXT) or "", predicted)
            if intent is None:
                continue
            logger.debug("phrase rule: %s instead of %s", intent, predicted)
            chosen = {"name": intent, "confidence": 1.0}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != intent]
            message.set(INTENT, chosen, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)
        return messages
