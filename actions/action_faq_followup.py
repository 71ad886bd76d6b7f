from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import catalogue, texts
from actions.conversation import answered_faq_id
from actions.reply import reply


class ActionFaqFollowup(Action):
    """After an FAQ answer (utter_faq), offer its related questions as buttons.

    A typed "/faq" command has no ResponseSelector result, so utter_faq could
    say nothing: the customer is then asked to rephrase instead of silence."""

    def name(self) -> Text:
        return "action_faq_followup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        entry = catalogue.entries().get(answered_faq_id(tracker) or "")
        if entry is None:
            dispatcher.utter_message(response="utter_rephrase")
        else:
            buttons = catalogue.question_buttons(entry.related)
            if buttons:
                reply(dispatcher, tracker, texts.RELATED_QUESTIONS, buttons)
        return []
