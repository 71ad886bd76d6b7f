"""Find the customer's own booking for a change or a cancellation: by the code
in the message (the code is the customer's receipt), else the only booking
made in this conversation."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import List, Optional, Tuple

from sqlalchemy.orm import Session

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
