from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import catalogue, texts
from actions.conversation import answered_faq_id
from actions.reply import reply


# FAQ answers that explain a task the bot can also do: offer to do it.
SELF_SERVICE = {
    "progress_query": ["check_application_status"],
    "appointment_how": ["book_appointment"],
    "appointment_change": ["change_appointment", "cancel_appointment"],
}


class ActionFaqFollowup(Action):
    """After an FAQ answer (utter_faq), offer its related questions as buttons
    (and, for an answer about a task the bot can do, the task itself).

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
            buttons = [
                {"title": texts.TASKS[task], "payload": f"/{task}"}
                for task in SELF_SERVICE.get(entry.id, [])
            ]
            buttons += catalogue.question_buttons(entry.related)
            if buttons:
                reply(dispatcher, tracker, texts.RELATED_QUESTIONS, buttons)
        return []
