from typing import Any, Dict, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.conversation import latest_intent, latest_text
from actions.reply import reply
from actions.safety import PoliteFormValidationAction
from bot import clock
from bot.booking.desk import BookingDesk, find_mobile
from bot.booking.rules import format_slot
from bot.booking.timeparse import parse_requested_time
from bot.db.engine import unit_of_work
from bot.db.repositories import BranchRepository, ServiceTypeRepository

REQUESTED = "requested_slot"
# A time is read from any message except the answers to the phone question.
TIME_SLOTS = {None, "service_type", "branch", "appointment_time", "appointment_confirmed"}


class ValidateAppointmentForm(PoliteFormValidationAction):
    """Fill the booking form from what the customer types (handbook 5.4).

    Every message is read for a service, a branch and a time, so "帮我约明天
    下午三点的开户" fills two slots at once and "改到后天上午" at the
    confirmation step changes the time. A time is checked against the rules
    and the branch's full slots; a refused one gets the nearest free slots as
    buttons. A message with nothing to fill (an FAQ question) extracts
    nothing, so the form steps aside for the digression rules."""

    def name(self) -> Text:
        return "validate_appointment_form"

    async def extract_service_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        with unit_of_work() as session:
            found = BookingDesk(session, clock.now()).service_type_in(latest_text(tracker))
            return {"service_type": found.code} if found else {}

    async def extract_branch(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        with unit_of_work() as session:
            found = BookingDesk(session, clock.now()).branch_in(latest_text(tracker))
            return {"branch": found.code} if found else {}

    async def extract_appointment_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        text = latest_text(tracker)
        if tracker.get_slot(REQUESTED) not in TIME_SLOTS or find_mobile(text):
            return {}
        now = clock.now()
        requested = parse_requested_time(text, now)
        if requested is None:
            return {}
        with unit_of_work() as session:
            branch = BranchRepository(session).by_code(tracker.get_slot("branch") or "")
            service = ServiceTypeRepository(session).by_code(tracker.get_slot("service_type") or "")
            check = BookingDesk(session, now).check(requested, branch, service)
        if check.ok:
            return {"appointment_time": check.slot.isoformat(), "appointment_confirmed": None}
        buttons = [{"title": format_slot(s, now), "payload": format_slot(s, now)} for s in check.alternatives]
        reply(dispatcher, tracker, check.message, buttons)
        return {"appointment_time": None, "appointment_confirmed": None}

    async def extract_contact_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        text = latest_text(tracker)
        phone = find_mobile(text)
        if phone:
            return {"contact_phone": phone}
        if tracker.get_slot(REQUESTED) == "contact_phone" and any(c.isdigit() for c in text):
            reply(dispatcher, tracker, texts.CONTACT_PHONE_FORMAT)
            return {"contact_phone": None}
        return {}

    async def extract_appointment_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(REQUESTED) != "appointment_confirmed":
            return {}
        text, intent = latest_text(tracker).strip(), latest_intent(tracker)
        if text == texts.CHANGE_TIME:
            return {"appointment_time": None, "appointment_confirmed": None}
        if text == texts.CONFIRM or intent == "affirm":
            return {"appointment_confirmed": True}
        if text == texts.GIVE_UP or intent == "deny":
            return {"appointment_confirmed": False}
        return {}

    # The values above are checked where they are read; these keep rasa-sdk
    # from warning that a slot has no validation method.
    def validate_service_type(self, value: Optional[Text], *_: Any) -> Dict[Text, Any]:
        return {"service_type": value}

    def validate_branch(self, value: Optional[Text], *_: Any) -> Dict[Text, Any]:
        return {"branch": value}

    def validate_appointment_time(self, value: Optional[Text], *_: Any) -> Dict[Text, Any]:
        return {"appointment_time": value}

    def validate_contact_phone(self, value: Optional[Text], *_: Any) -> Dict[Text, Any]:
        return {"contact_phone": value}

    def validate_appointment_confirmed(self, value: Optional[bool], *_: Any) -> Dict[Text, Any]:
        return {"appointment_confirmed": value}
