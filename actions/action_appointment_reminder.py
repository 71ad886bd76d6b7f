from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import booking_summary, reminders, texts
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.db.engine import unit_of_work
from bot.db.models import AppointmentStatus
from bot.db.repositories import AppointmentRepository


class ActionAppointmentReminder(Action):
    """预约提醒, fired by Rasa's scheduler: remind the customer of a booking that
    still stands (a cancelled or moved one says nothing)."""

    def name(self) -> Text:
        return "action_appointment_reminder"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        code = next(tracker.get_latest_entity_values(reminders.ENTITY), None)
        now = clock.now()
        with unit_of_work() as session:
            appointment = AppointmentRepository(session).by_code(code or "")
            if (
                appointment is None
                or appointment.status is not AppointmentStatus.BOOKED
                or appointment.slot.starts_at <= now
            ):
                return []
            summary = booking_summary.of_appointment(appointment, now)
        reply(dispatcher, tracker, texts.REMINDER.format(code=appointment.code, **summary.fields()))
        return []
