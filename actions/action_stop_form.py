from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.form_slots import APPLICATION_FORM_SLOTS, APPOINTMENT_FORM_SLOTS, cleared
from actions.reply import reply


class ActionStopForm(Action):
    """"算了/不约了": leave the form and forget what it collected (a booking is
    only written after the confirmation, so nothing is half-written)."""

    def name(self) -> Text:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        reply(dispatcher, tracker, texts.FORM_STOPPED)
        return (
            [ActiveLoop(None), SlotSet("requested_slot", None)]
            + cleared(APPLICATION_FORM_SLOTS)
            + cleared(APPOINTMENT_FORM_SLOTS)
        )
