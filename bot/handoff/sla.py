"""Service-level deadlines of handoff cases, counted in SERVICE time.

Dedicated service answers within 20 minutes, and people work 9:00-22:00 on
working days (``ServiceCalendar``: statutory holidays closed, make-up
working days open). Only minutes inside those hours count: a case created
at 21:55 on a Friday before an ordinary weekend is due at 9:15 on Monday,
one created on Saturday at 9:20 on the next working day.

Pure functions of their arguments: the calendar and the current time are
passed in, nothing is read from the clock or the database.
"""
from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from typing import Optional, Tuple

from bot.booking.calendar import MAX_SEARCH_DAYS, ServiceCalendar
from bot.handoff.models import Case

FIRST_RESPONSE_MINUTES = 20
WARNING_MINUTES_BEFORE = 5


class SlaState(str, enum.Enum):
    OK = "ok"
    WARNING = "warning"  # the deadline is close and nobody has answered yet
    BREACHED = "breached"  # answered late, or not answered by the deadline

    @property
    def label(self) -> str:
        return {"ok": "正常", "warning": "即将超时", "breached": "已超时"}[self.value]


class NoServiceHours(RuntimeError):
    """The calendar has no open day within a year: the holiday data is broken."""


def service_deadline(
    start: datetime, minutes: int, calendar: ServiceCalendar
) -> datetime:
    """``start`` plus ``minutes`` of service time, in the calendar's zone.

    Time outside service hours does not count; a deadline falling exactly on
    closing time stays on that day. ``start`` must be aware."""
    _require_aware(start)
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    moment = calendar.localize(start)
    remaining = timedelta(minutes=minutes)
    while True:
        opens, closes = _hours_at_or_after(moment, calendar)
        moment = max(moment, opens)
        if moment + remaining <= closes:
            return moment + remaining
        remaining -= closes - moment
        moment = closes


def service_time_before(
    deadline: datetime, minutes: int, calendar: ServiceCalendar
) -> datetime:
    """The moment ``minutes`` of service time before ``deadline`` (the
    inverse of ``service_deadline``); a result falling exactly on opening
    time stays on that day."""
    _require_aware(deadline)
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    moment = calendar.localize(deadline)
    if minutes == 0:
        return moment
    remaining = timedelta(minutes=minutes)
    while True:
        opens, closes = _hours_at_or_before(moment, calendar)
        moment = min(moment, closes)
        if moment - remaining >= opens:
            return moment - remaining
        remaining -= moment - opens
        moment = opens


def warning_time(
    deadline: datetime,
    calendar: ServiceCalendar,
    minutes_before: int = WARNING_MINUTES_BEFORE,
) -> datetime:
    """When to warn that a deadline is near: ``minutes_before`` service minutes ahead."""
    return service_time_before(deadline, minutes_before, calendar)


def first_response_due(created_at: datetime, calendar: ServiceCalendar) -> datetime:
    """The dedicated-service promise: an answer within 20 service minutes."""
    return service_deadline(created_at, FIRST_RESPONSE_MINUTES, calendar)


def sla_state(case: Case, now: datetime, calendar: ServiceCalendar) -> SlaState:
    """Whether the first-response promise of ``case`` holds at ``now``.

    Answered cases are judged by when they were answered (late is breached
    for good); unanswered ones by ``now``, or by when they ended."""
    _require_aware(now)
    due = case.first_response_due
    if case.first_responded_at is not None:
        return SlaState.BREACHED if case.first_responded_at > due else SlaState.OK
    reference = now if case.status.is_active or case.closed_at is None else case.closed_at
    if reference > due:
        return SlaState.BREACHED
    if case.status.is_active and reference >= warning_time(due, calendar):
        return SlaState.WARNING
    return SlaState.OK


def _hours_at_or_after(moment: datetime, calendar: ServiceCalendar) -> Tuple[datetime, datetime]:
    """The opening hours of the first day, from ``moment``'s on, still open after ``moment``."""
    day = moment.date()
    for _ in range(MAX_SEARCH_DAYS):
        hours = calendar.opening_hours(day)
        if hours is not None and moment < hours[1]:
            return hours
        day = _next_day(day, +1)
    raise NoServiceHours(f"no service hours within {MAX_SEARCH_DAYS} days after {moment}")


def _hours_at_or_before(moment: datetime, calendar: ServiceCalendar) -> Tuple[datetime, datetime]:
    """The opening hours of the last day, up to ``moment``'s, already open before ``moment``."""
    day = moment.date()
    for _ in range(MAX_SEARCH_DAYS):
        hours = calendar.opening_hours(day)
        if hours is not None and moment > hours[0]:
            return hours
        day = _next_day(day, -1)
    raise NoServiceHours(f"no service hours within {MAX_SEARCH_DAYS} days before {moment}")


def _next_day(day: date, step: int) -> date:
    try:
        return day + timedelta(days=step)
    except OverflowError as error:
        raise NoServiceHours(f"the calendar ends at {day}") from error


def _require_aware(moment: Optional[datetime]) -> datetime:
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment
