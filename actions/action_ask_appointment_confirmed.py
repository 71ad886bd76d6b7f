from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import booking_summary, texts
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.db.engine import unit_of_work

BUTTONS = [
    {"title": texts.CONFIRM, "payload": texts.CONFIRM},
    {"title": texts.CHANGE_TIME, "payload": texts.CHANGE_TIME},
    {"title": texts.GIVE_UP, "payload": texts.GIVE_UP},
]


class ActionAskAppointmentConfirmed(Action):
    """预约确认: show what will be booked and ask before booking anything."""

    def name(self) -> Text:
        return "action_ask_appointment_confirmed"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        with unit_of_work() as session:
            summary = booking_summary.from_slots(session, tracker.slots, clock.now())
        if summary is None:
            reply(dispatcher, tracker, texts.SERVICE_UNAVAILABLE)
            return []
        reply(dispatcher, tracker, texts.CONFIRM_APPOINTMENT.format(**summary.fields()), BUTTONS)
        return []
