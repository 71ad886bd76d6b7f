from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import booking_summary, own_appointments, reminders, texts
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.db.engine import unit_of_work
from bot.db.repositories import AppointmentNotActive, AppointmentRepository


class ActionCancelAppointment(Action):
    """取消预约: cancel the customer's own booking, free its place and drop its
    reminder."""

    def name(self) -> Text:
        return "action_cancel_appointment"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        now = clock.now()
        with unit_of_work() as session:
            appointment = own_appointments.find_or_ask(session, dispatcher, tracker, "取消预约", now)
            if appointment is None:
                return []
            try:
                AppointmentRepository(session).cancel(appointment, at=now)
            except AppointmentNotActive:
                reply(dispatcher, tracker, texts.ALREADY_CANCELLED.format(code=appointment.code))
                return []
            summary = booking_summary.of_appointment(appointment, now)
        reply(dispatcher, tracker, texts.CANCELLED.format(code=appointment.code, **summary.fields()))
        return reminders.cancel(appointment.code)

