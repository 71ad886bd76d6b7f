from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import catalogue, texts
from actions.conversation import answered_faq_id
from actions.handoff import hand_over
from actions.reply import reply
from actions.safety import politely
from bot.handoff.models import HandoffReason


# FAQ answers that explain a task the bot can also do: offer to do it.
SELF_SERVICE = {
    "progress_query": ["check_application_status"],
    "appointment_how": ["book_appointment"],
    "appointment_change": ["change_appointment", "cancel_appointment"],
}

# Answers after which a person takes over at once (handbook 4.3: complaints
# are handled by people under 首问负责制; a stolen account or fraud cannot wait
# and goes to the front of the queue).
ESCALATE = {
    "complaint_how": HandoffReason.COMPLAINT,
    "info_leak": HandoffReason.HIGH_RISK,
}


class ActionFaqFollowup(Action):
    """After an FAQ answer (utter_faq), offer its related questions as buttons
    (and, for an answer about a task the bot can do, the task itself); after
    a complaint or an account-security answer, hand over to a person.

    A typed "/faq" command has no ResponseSelector result, so utter_faq could
    say nothing: the customer is then asked to rephrase instead of silence."""

    def name(self) -> Text:
        return "action_faq_followup"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        entry = catalogue.entries().get(answered_faq_id(tracker) or "")
        if entry is None:
            dispatcher.utter_message(response="utter_rephrase")
        elif entry.id in ESCALATE:
            return hand_over(dispatcher, tracker, ESCALATE[entry.id])
        else:
            buttons = [
                {"title": texts.TASKS[task], "payload": f"/{task}"}
                for task in SELF_SERVICE.get(entry.id, [])
            ]
            buttons += catalogue.question_buttons(entry.related)
            if buttons:
                reply(dispatcher, tracker, texts.RELATED_QUESTIONS, buttons)
        return []
