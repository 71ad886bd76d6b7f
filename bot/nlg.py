"""Answer in the script the customer writes in.

Configured in endpoints.yml as ``nlg: type: bot.nlg.ScriptMatchingNLG``:
Rasa loads a custom generator class by its dotted path. It renders the
domain's responses exactly like Rasa's own templated generator (including the
retrieval answers ``utter_faq/<id>``), then converts them to Traditional when
the customer's latest telling message was Traditional (bot/script.py).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.script import customer_script, message_in_script


class ScriptMatchingNLG(TemplatedNaturalLanguageGenerator):
    def __init__(
        self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        message = await super().generate(utter_action, tracker, output_channel, **kwargs)
        if message is None:
            return None
        texts = (
            event.text
            for event in reversed(tracker.events)
            if isinstance(event, UserUttered)
        )
        return message_in_script(message, customer_script(texts))
