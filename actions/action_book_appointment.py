import logging
from datetime import datetime
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import booking_summary, reminders, texts
from actions.conversation import channel_of
from actions.form_slots import APPOINTMENT_FORM_SLOTS, cleared
from actions.reply import reply
from actions.safety import politely
from bot import clock
from bot.booking.desk import BookingDesk
from bot.booking.rules import format_slot
from bot.db.engine import unit_of_work
from bot.db.repositories import (
    AppointmentNotActive,
    AppointmentRepository,
    AppointmentSlotRepository,
    BranchRepository,
    ServiceTypeRepository,
    SlotFull,
)

logger = logging.getLogger(__name__)


class ActionBookAppointment(Action):
    """After the confirmation: book the slot (or move the booking being
    changed) in one unit of work, and schedule its reminder.

    The time is checked again (the customer may have dawdled past it), and a
    slot taken meanwhile by someone else gets the nearest free alternatives
    and the form asks for a time again; nothing half-written is left."""

    def name(self) -> Text:
        return "action_book_appointment"

    @politely
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if not tracker.get_slot("appointment_confirmed"):
            reply(dispatcher, tracker, texts.BOOKING_DECLINED)
            return cleared(APPOINTMENT_FORM_SLOTS)
        now = clock.now()
        start = datetime.fromisoformat(tracker.get_slot("appointment_time"))
        try:
            with unit_of_work() as session:
                desk = BookingDesk(session, now)
                branch = BranchRepository(session).by_code(tracker.get_slot("branch"))
                service = ServiceTypeRepository(session).by_code(tracker.get_slot("service_type"))
                check = desk.check(start, branch, service)
                if not check.ok:
                    return self._ask_again(dispatcher, tracker, check.message, check.alternatives, now)
                slot = AppointmentSlotRepository(session).get_or_create(branch, start)
                appointments = AppointmentRepository(session)
                code = tracker.get_slot("booking_code")
                events: List[Dict[Text, Any]] = []
                if code:
                    appointment = appointments.by_code(code)
                    if appointment is None:
                        reply(dispatcher, tracker, texts.NO_APPOINTMENT_FOUND)
                        return cleared(APPOINTMENT_FORM_SLOTS)
                    appointments.reschedule(appointment, slot, at=now)
                    message = texts.RESCHEDULED
                else:
                    appointment = appointments.book(
                        slot=slot,
                        service_type=service,
                        contact_phone=tracker.get_slot("contact_phone"),
                        conversation_id=tracker.sender_id,
                        channel=channel_of(tracker),
                        at=now,
                    )
                    message = texts.BOOKED
                reminder = reminders.schedule(appointment.code, slot.starts_at, now)
                if code and reminder is None:
                    # Rasa schedules a turn's reminders before it cancels any,
                    # and a cancel by this name would also drop the new one: the
                    # new reminder replaces the old (same name), so the old is
                    # only cancelled when no new one is due.
                    events += reminders.cancel(appointment.code)
                appointment.reminder_job = reminder["name"] if reminder else None
                summary = booking_summary.of_appointment(appointment, now)
        except SlotFull:
            with unit_of_work() as session:
                branch = BranchRepository(session).by_code(tracker.get_slot("branch"))
                alternatives = BookingDesk(session, now).alternatives(start, branch)
            lead = texts.SLOT_TAKEN.format(time=format_slot(start, now))
            return self._ask_again(dispatcher, tracker, lead, alternatives, now)
        except AppointmentNotActive:
            reply(dispatcher, tracker, texts.NO_APPOINTMENT_FOUND)
            return cleared(APPOINTMENT_FORM_SLOTS)
        reply(dispatcher, tracker, message.format(code=appointment.code, **summary.fields()))
        logger.info("appointment %s %s", appointment.code, "moved" if code else "booked")
        return events + ([reminder] if reminder else []) + cleared(APPOINTMENT_FORM_SLOTS)

    @staticmethod
    def _ask_again(dispatcher, tracker, lead: str, alternatives, now) -> List[Dict[Text, Any]]:
        buttons = [{"title": format_slot(s, now), "payload": format_slot(s, now)} for s in alternatives]
        reply(dispatcher, tracker, lead, buttons)
        return [
            SlotSet("appointment_time", None),
            SlotSet("appointment_confirmed", None),
            FollowupAction("appointment_form"),
        ]
