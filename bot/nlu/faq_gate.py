"""Pipeline component: don't answer an FAQ the model is unsure about.

The FallbackClassifier only looks at intent confidence. A message can be
confidently "an FAQ question" while the ResponseSelector is torn between
two answers; giving either would be guessing. This gate, placed after the
ResponseSelector, turns such a prediction into ``nlu_fallback`` so the
dialogue asks "您是不是想问…" with the selector's top candidates instead.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
)
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class FaqConfidenceGate(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "retrieval_intent": "faq",
            # below this response-selector confidence the answer is a guess
            "threshold": 0.5,
            # top-1 minus top-2 below this: two answers are equally likely
            "ambiguity_threshold": 0.1,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = config

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FaqConfidenceGate":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self._unsure(message):
                fallback = {
                    INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                    PREDICTED_CONFIDENCE_KEY: self.config["threshold"],
                }
                message.data[INTENT] = fallback
                message.data.setdefault(INTENT_RANKING_KEY, []).insert(0, dict(fallback))
        return messages

    def _unsure(self, message: Message) -> bool:
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if intent != self.config["retrieval_intent"]:
            return False
        ranking = (
            (message.get("response_selector") or {})
            .get(self.config["retrieval_intent"], {})
            .get("ranking", [])
        )
        if not ranking:
            return True
        top = ranking[0]["confidence"]
        second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        unsure = top < self.config["threshold"] or top - second < self.config[
            "ambiguity_threshold"
        ]
        if unsure:
            logger.debug("FAQ answer unsure: top %.3f, second %.3f", top, second)
        return unsure
