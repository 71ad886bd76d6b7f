from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_intent
from actions.handoff import hand_over, reason_of
from actions.safety import politely


class ActionHandoff(Action):
    """The customer asked for a person, accepted the bot's offer after two
    misses, or (off hours) chose to leave a message: hand over (see
    actions.handoff)."""

    def name(self) -> Text:
        return "action_handoff"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return hand_over(
            dispatcher,
            tracker,
            reason_of(tracker),
            off_hours_confirmed=latest_intent(tracker) == "leave_message",
        )
