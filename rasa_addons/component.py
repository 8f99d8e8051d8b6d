"""What every pipeline step of ours shares: built from its config alone, nothing to train.
Runs in Rasa's Python 3.10: no 3.11-only typing here."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


class ConfiguredStep(GraphComponent):
    def __init__(self, config: dict[str, Any]) -> None:
        raise NotImplementedError

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ConfiguredStep:
        return cls(config)

    def process_training_data(self, training_data: Any) -> Any:
        return training_data
