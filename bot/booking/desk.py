"""The booking rules applied to the database: what a request can get, which
service types and branches the customer named, and what to offer instead.

``bot.booking.rules`` knows the calendar and the hours; the database knows
which slots are full. The desk joins them for one unit of work (``session``)
and one moment (``now``).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional, Sequence, Union

from sqlalchemy.orm import Session

from bot.booking.calendar import ServiceCalendar, get_calendar
from bot.booking.rules import BookingCheck, BookingPolicy, IsFree, candidate_slots, check_request
from bot.booking.timeparse import RequestedTime
from bot.db.models import Branch, BranchKind, ServiceType
from bot.db.repositories import AppointmentSlotRepository, BranchRepository, ServiceTypeRepository

# Words customers add to a name or leave out ("信用卡" for 信用卡业务).
_NAME_NOISE = re.compile(r"(业务|咨询|办理|预约|支行|营业部|网点|新区|区)$")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def find_mobile(text: str) -> Optional[str]:
    """An 11-digit mainland mobile number inside ``text`` (spaces/dashes allowed)."""
    folded = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text or ""))
    match = _MOBILE.search(folded)
    return match.group(0) if match else None


def _short_names(name: str) -> List[str]:
    names, current = [name], name
    while True:
        shorter = _NAME_NOISE.sub("", current)
        if shorter == current or len(shorter) < 2:
            return names
        names.append(shorter)
        current = shorter


def _best_match(text: str, candidates: Sequence[Union[ServiceType, Branch]]):
    """The candidate whose (shortened) name appears in ``text``, longest first."""
    found = [
        (len(short), candidate)
        for candidate in candidates
        for short in _short_names(candidate.name)
        if short in text
    ]
    return max(found, key=lambda pair: pair[0])[1] if found else None


@dataclass
class BookingDesk:
    session: Session
    now: datetime
    calendar: ServiceCalendar = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.calendar = self.calendar or get_calendar()
        self.now = self.calendar.localize(self.now)

    # -- what the customer named ------------------------------------------

    def service_types(self) -> List[ServiceType]:
        return ServiceTypeRepository(self.session).active()

    def branches(self) -> List[Branch]:
        return BranchRepository(self.session).active()

    def service_type_in(self, text: str) -> Optional[ServiceType]:
        return _best_match(text, self.service_types())

    def branch_in(self, text: str) -> Optional[Branch]:
        branches = self.branches()
        if "视频" in text:
            return next((b for b in branches if b.kind is BranchKind.VIDEO), None)
        return _best_match(text, [b for b in branches if b.kind is not BranchKind.VIDEO])

    # -- when ----------------------------------------------------------------

    def check(
        self,
        requested: Union[RequestedTime, datetime],
        branch: Optional[Branch] = None,
        service_type: Optional[ServiceType] = None,
    ) -> BookingCheck:
        """The rules, and (once the branch is known) the branch's full slots."""
        return check_request(
            requested,
            self.now,
            self.calendar,
            is_free=self.is_free(branch) if branch is not None else None,
            policy=self._policy(service_type),
        )

    def alternatives(
        self, start: datetime, branch: Branch, service_type: Optional[ServiceType] = None
    ) -> List[datetime]:
        return candidate_slots(
            start, self.now, self.calendar, is_free=self.is_free(branch), policy=self._policy(service_type)
        )

    def is_free(self, branch: Branch) -> IsFree:
        policy = BookingPolicy()
        full = {
            slot.starts_at
            for slot in AppointmentSlotRepository(self.session).full_between(
                branch, self.now, self.now + timedelta(days=policy.window_days + 1)
            )
        }
        return lambda start: start not in full

    @staticmethod
    def _policy(service_type: Optional[ServiceType]) -> BookingPolicy:
        if service_type is None:
            return BookingPolicy()
        return BookingPolicy(service_minutes=service_type.duration_minutes)


def place_of(branch: Branch) -> str:
    """How the customer is told where: the branch and its address, or video."""
    return f"{branch.name}（{branch.address}）" if branch.address else branch.name
