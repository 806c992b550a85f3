"""Rule-based extraction of the contract's entities with normalised values.

Finds platform, amount, monthly_income, overdue_days, monthly_payment and installments in the
user's text and gives each its normalised value (integer yuan / days / periods, canonical lender
name), via xieshang.nlu.extract. Rules generalise to numbers the training data never saw
("两万三", "1.2万", "5k") better than a tagger trained on a few hundred sentences, and they cost
well under a millisecond.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from xieshang.nlu.extract import extract


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class RuleEntityExtractor(GraphComponent, EntityExtractorMixin):
    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "RuleEntityExtractor":
        return cls(execution_context.node_name)

    def __init__(self, name: Text = "RuleEntityExtractor") -> None:
        self._name = name

    @property
    def name(self) -> Text:  # used by EntityExtractorMixin.add_extractor_name
        return "RuleEntityExtractor"

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = []
            for ent in extract(text):
                found.append(
                    {
                        "entity": ent["entity"],
                        "value": ent["value"],
                        "start": ent["start"],
                        "end": ent["end"],
                        "confidence_entity": 1.0,
                        "extractor": self.name,
                    }
                )
            if found:
                message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
