from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import catalogue, texts
from actions.reply import reply


class ActionFeaturedQuestions(Action):
    """After the greeting, offer the most asked questions (猜你想问) as buttons."""

    def name(self) -> Text:
        return "action_featured_questions"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        buttons = catalogue.question_buttons(catalogue.library().featured)
        if buttons:
            reply(dispatcher, tracker, texts.FEATURED_QUESTIONS, buttons)
        return []
