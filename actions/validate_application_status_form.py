from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.conversation import latest_text
from actions.reply import reply
from actions.safety import PoliteFormValidationAction
from bot import clock
from bot.db.engine import unit_of_work
from bot.status import verification
from bot.status.numbers import find_application_number, find_phone_last4, looks_like_application_number

REQUESTED = "requested_slot"


class ValidateApplicationStatusForm(PoliteFormValidationAction):
    """Read the application number and the phone's last 4 digits from what the
    customer types, and verify them before anything is shown.

    A message with neither (an FAQ question in the middle) extracts nothing,
    so the form steps aside and the digression rules answer it."""

    def name(self) -> Text:
        return "validate_application_status_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> List[Text]:
        if tracker.get_slot("status_locked"):
            return []
        number = tracker.get_slot("application_number")
        if number and number == tracker.get_slot("verified_application"):
            return ["application_number"]  # verified earlier in this conversation
        return domain_slots

    async def extract_application_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        text = latest_text(tracker)
        number = find_application_number(text)
        if number:
            return {"application_number": number}
        if tracker.get_slot(REQUESTED) == "application_number" and looks_like_application_number(text):
            reply(dispatcher, tracker, texts.APPLICATION_NUMBER_FORMAT)
            return {"application_number": None}
        return {}

    async def validate_application_number(
        self, value: Optional[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        if not value:
            return {"application_number": None}
        with unit_of_work() as session:
            locked = verification.is_locked(
                session, conversation_id=tracker.sender_id, application_number=value, now=clock.now()
            )
        if locked:
            return {"application_number": value, "status_locked": True}
        # A new number must be verified again: forget digits given for another.
        return {"application_number": value, "phone_last4": None}

    async def extract_phone_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        if tracker.get_slot(REQUESTED) != "phone_last4":
            return {}
        text = latest_text(tracker)
        if find_application_number(text) or not any(c.isdigit() for c in text):
            return {}
        digits = find_phone_last4(text)
        if digits is None:
            reply(dispatcher, tracker, texts.PHONE_LAST4_FORMAT)
            return {"phone_last4": None}
        return {"phone_last4": digits}

    async def validate_phone_last4(
        self, value: Optional[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[Text, Any]:
        number = tracker.get_slot("application_number")
        if not value or not number:
            return {"phone_last4": None}
        with unit_of_work() as session:
            outcome = verification.verify(
                session,
                conversation_id=tracker.sender_id,
                application_number=number,
                phone_last4=value,
                now=clock.now(),
            )
        if outcome.verified:
            # The digits themselves are not kept: only that this number passed.
            return {"phone_last4": "verified", "verified_application": number}
        if outcome.locked:
            return {"phone_last4": None, "status_locked": True}
        reply(dispatcher, tracker, texts.VERIFICATION_FAILED.format(left=outcome.attempts_left))
        return {"phone_last4": None}
