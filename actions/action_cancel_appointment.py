from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import booking_summary, own_appointments, reminders, texts
from actions.conversation import latest_text
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
            appointment, candidates = own_appointments.find(
                session, latest_text(tracker), tracker.sender_id, now
            )
            if appointment is None:
                ask_which(dispatcher, tracker, candidates, "取消预约", now)
                return []
            try:
                AppointmentRepository(session).cancel(appointment, at=now)
            except AppointmentNotActive:
                reply(dispatcher, tracker, texts.ALREADY_CANCELLED.format(code=appointment.code))
                return []
            summary = booking_summary.of_appointment(appointment, now)
        reply(dispatcher, tracker, texts.CANCELLED.format(code=appointment.code, **summary.fields()))
        return reminders.cancel(appointment.code)


def ask_which(dispatcher, tracker, candidates, verb: str, now) -> None:
    """No booking found, or several: say so, with one button per booking."""
    if not candidates:
        reply(dispatcher, tracker, texts.NO_APPOINTMENT_FOUND)
        return
    buttons = [
        {
            "title": f"{a.code} {booking_summary.of_appointment(a, now).time}",
            "payload": f"{verb} {a.code}",
        }
        for a in candidates
    ]
    reply(dispatcher, tracker, texts.WHICH_APPOINTMENT, buttons)
