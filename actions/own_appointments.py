"""Find the customer's own booking for a change or a cancellation: by the code
in the message (the code is the customer's receipt), else the only booking
made in this conversation."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import booking_summary, texts
from actions.conversation import latest_text
from actions.reply import reply
from bot.db.models import Appointment, AppointmentStatus
from bot.db.repositories import AppointmentRepository

_CODE = re.compile(r"YY[\s\-]*[A-Z0-9](?:[\s\-]*[A-Z0-9]){5}", re.IGNORECASE)


def code_in(text: str) -> Optional[str]:
    match = _CODE.search(unicodedata.normalize("NFKC", text or ""))
    return re.sub(r"[\s\-]", "", match.group(0)).upper() if match else None


def find(session: Session, text: str, conversation_id: str, now: datetime) -> Tuple[Optional[Appointment], List[Appointment]]:
    """(the booking, []) when it is clear which one; (None, candidates) when the
    customer must pick among several; (None, []) when there is none."""
    repository = AppointmentRepository(session)
    code = code_in(text)
    if code:
        found = repository.by_code(code)
        if found is not None and found.status is AppointmentStatus.BOOKED and found.slot.starts_at > now:
            return found, []
        return None, []
    mine = repository.active_future(now=now, conversation_id=conversation_id)
    if len(mine) == 1:
        return mine[0], []
    return None, mine


def find_or_ask(
    session: Session, dispatcher: CollectingDispatcher, tracker: Tracker, verb: str, now: datetime
) -> Optional[Appointment]:
    """The booking the customer means; when it is not clear, say so (with a
    button per booking to choose from) and return None."""
    appointment, candidates = find(session, latest_text(tracker), tracker.sender_id, now)
    if appointment is None:
        _ask_which(dispatcher, tracker, candidates, verb, now)
    return appointment


def _ask_which(dispatcher, tracker, candidates: List[Appointment], verb: str, now: datetime) -> None:
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
