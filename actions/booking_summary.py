"""What a booking looks like to the customer (shared by the confirmation,
booking, change, cancel and reminder actions)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.booking.desk import place_of
from bot.booking.rules import format_slot
from bot.db.models import Appointment
from bot.db.repositories import BranchRepository, ServiceTypeRepository
from bot.privacy import mask_phone
from bot.settings import get_settings


@dataclass(frozen=True)
class Summary:
    service: str
    place: str
    time: str
    phone: str

    def fields(self) -> dict:
        return {"service": self.service, "place": self.place, "time": self.time, "phone": self.phone}


def local(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(get_settings().timezone))


def from_slots(session: Session, slots: dict, now: datetime) -> Optional[Summary]:
    service = ServiceTypeRepository(session).by_code(slots.get("service_type") or "")
    branch = BranchRepository(session).by_code(slots.get("branch") or "")
    if service is None or branch is None or not slots.get("appointment_time"):
        return None
    start = datetime.fromisoformat(slots["appointment_time"])
    return Summary(service.name, place_of(branch), format_slot(local(start), now), mask_phone(slots.get("contact_phone") or ""))


def of_appointment(appointment: Appointment, now: datetime) -> Summary:
    return Summary(
        appointment.service_type.name,
        place_of(appointment.slot.branch),
        format_slot(local(appointment.slot.starts_at), now),
        mask_phone(appointment.contact_phone),
    )
