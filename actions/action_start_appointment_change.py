from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import own_appointments
from actions.safety import politely
from bot import clock
from bot.db.engine import unit_of_work


class ActionStartAppointmentChange(Action):
    """预约变更: find the customer's booking and reopen the booking form on it
    with everything but the time filled; the message that asked ("改到后天
    上午") is read for the new time as the form starts."""

    def name(self) -> Text:
        return "action_start_appointment_change"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        now = clock.now()
        with unit_of_work() as session:
            appointment = own_appointments.find_or_ask(session, dispatcher, tracker, "改约", now)
            if appointment is None:
                return []
            return [
                SlotSet("booking_code", appointment.code),
                SlotSet("service_type", appointment.service_type.code),
                SlotSet("branch", appointment.slot.branch.code),
                SlotSet("contact_phone", appointment.contact_phone),
                SlotSet("appointment_time", None),
                SlotSet("appointment_confirmed", None),
                FollowupAction("appointment_form"),
            ]
