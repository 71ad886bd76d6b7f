"""The appointment reminder (预约提醒) as Rasa reminder events: Rasa's own
scheduler fires ``EXTERNAL_appointment_reminder`` on the customer's channel."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Optional

from rasa_sdk.events import EventType, ReminderCancelled, ReminderScheduled

from bot.settings import get_settings

INTENT = "EXTERNAL_appointment_reminder"
ENTITY = "booking_code"


def reminder_name(code: str) -> str:
    return f"appointment_{code}"


def schedule(code: str, starts_at: datetime, now: datetime) -> Optional[ReminderScheduled]:
    """A reminder ``reminder_lead_minutes`` before the start; none when that
    moment has passed (the confirmation just sent is reminder enough)."""
    at = starts_at - timedelta(minutes=get_settings().reminder_lead_minutes)
    if at <= now:
        return None
    return ReminderScheduled(
        INTENT,
        trigger_date_time=at,
        entities=[{"entity": ENTITY, "value": code}],
        name=reminder_name(code),
        kill_on_user_message=False,
    )


def cancel(code: str) -> List[EventType]:
    return [ReminderCancelled(name=reminder_name(code))]
