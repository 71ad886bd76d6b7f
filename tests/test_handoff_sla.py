"""Deadlines in service time (9:00-22:00 on working days), on fixed dates in 2026.

The working days assumed here are checked against chinesecalendar first, so
a change in the official schedule fails loudly instead of silently.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from bot.booking.calendar import ServiceCalendar
from bot.handoff.models import Case, CaseStatus
from bot.handoff.sla import (
    NoServiceHours,
    SlaState,
    first_response_due,
    service_deadline,
    service_time_before,
    sla_state,
    warning_time,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE = timedelta(minutes=1)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def calendar() -> ServiceCalendar:
    return ServiceCalendar(timezone="Asia/Shanghai")


@pytest.mark.parametrize(
    "day, working",
    [
        (date(2026, 11, 27), True),  # Friday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 11, 30), True),  # Monday
        (date(2026, 9, 24), True),  # Thursday before Mid-Autumn
        (date(2026, 9, 25), False),  # Mid-Autumn Festival (Friday)
        (date(2026, 9, 28), True),
        (date(2026, 9, 30), True),
        *[(date(2026, 10, d), False) for d in range(1, 8)],  # National Day
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday, make-up working day (调休)
        (date(2026, 10, 11), False),
    ],
)
def test_the_dates_used_here_are_as_the_state_council_published(day, working, calendar):
    assert chinese_calendar.is_workday(day) is working
    assert calendar.is_working_day(day) is working


@pytest.mark.parametrize(
    "start, due",
    [
        (at(11, 27, 10), at(11, 27, 10, 20)),  # an ordinary working morning
        (at(11, 27, 21, 40), at(11, 27, 22)),  # ends exactly at closing time
        (at(11, 27, 21, 55), at(11, 30, 9, 15)),  # Friday evening: 5 minutes, then Monday
        (at(11, 27, 22), at(11, 30, 9, 20)),  # closing time itself is closed
        (at(11, 28, 11), at(11, 30, 9, 20)),  # Saturday
        (at(11, 29, 23, 59), at(11, 30, 9, 20)),  # Sunday night
        (at(11, 30, 7, 30), at(11, 30, 9, 20)),  # before opening
        (at(11, 30, 9), at(11, 30, 9, 20)),  # at opening
        (at(9, 24, 21, 50), at(9, 28, 9, 10)),  # Mid-Autumn long weekend
        (at(9, 30, 21, 50), at(10, 8, 9, 10)),  # the eve of National Day
        (at(10, 1, 10), at(10, 8, 9, 20)),  # National Day itself
        (at(10, 9, 21, 59), at(10, 10, 9, 19)),  # into the make-up Saturday
    ],
)
def test_first_response_is_due_20_service_minutes_later(start, due, calendar):
    assert first_response_due(start, calendar) == due
    assert service_deadline(start, 20, calendar) == due


def test_deadlines_work_from_utc_and_return_local_time(calendar):
    friday_evening_utc = datetime(2026, 11, 27, 13, 55, tzinfo=timezone.utc)  # 21:55 in Shanghai
    due = service_deadline(friday_evening_utc, 20, calendar)
    assert due == at(11, 30, 9, 15)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(hours=8)


def test_long_durations_span_several_working_days(calendar):
    # 13 hours a day: 30 hours from Friday 9:00 are Friday, Monday and 4 hours of Tuesday.
    assert service_deadline(at(11, 27, 9), 30 * 60, calendar) == at(12, 1, 13)


@pytest.mark.parametrize(
    "deadline, warn_at",
    [
        (at(11, 27, 10, 20), at(11, 27, 10, 15)),
        (at(11, 30, 9, 15), at(11, 30, 9, 10)),
        (at(11, 30, 9, 3), at(11, 27, 21, 58)),  # 3 minutes Monday, 2 on Friday evening
        (at(10, 8, 9, 2), at(9, 30, 21, 57)),  # back across National Day
        (at(11, 30, 9, 5), at(11, 30, 9)),  # exactly at opening stays on that day
    ],
)
def test_the_warning_comes_5_service_minutes_before_the_deadline(deadline, warn_at, calendar):
    assert warning_time(deadline, calendar) == warn_at


@pytest.mark.parametrize(
    "start",
    [at(11, 27, 9, 1), at(11, 27, 21, 55), at(9, 30, 21, 50), at(10, 9, 21, 59), at(11, 30, 15, 7)],
)
@pytest.mark.parametrize("minutes", [1, 5, 20, 13 * 60 + 7])
def test_counting_back_undoes_counting_forward(start, minutes, calendar):
    deadline = service_deadline(start, minutes, calendar)
    assert service_time_before(deadline, minutes, calendar) == start


def test_zero_minutes(calendar):
    assert service_deadline(at(11, 27, 10), 0, calendar) == at(11, 27, 10)
    assert service_deadline(at(11, 28, 10), 0, calendar) == at(11, 30, 9)
    assert service_time_before(at(11, 28, 10), 0, calendar) == at(11, 28, 10)


def test_bad_input_is_refused(calendar):
    with pytest.raises(ValueError, match="naive"):
        service_deadline(datetime(2026, 11, 27, 10), 20, calendar)
    with pytest.raises(ValueError, match="negative"):
        service_deadline(at(11, 27, 10), -1, calendar)
    with pytest.raises(ValueError, match="negative"):
        service_time_before(at(11, 27, 10), -1, calendar)


class NeverOpen(ServiceCalendar):
    def opening_hours(self, day):
        return None


def test_a_calendar_without_service_hours_fails_instead_of_looping():
    closed = NeverOpen(timezone="Asia/Shanghai")
    with pytest.raises(NoServiceHours):
        service_deadline(at(11, 27, 10), 20, closed)
    with pytest.raises(NoServiceHours):
        warning_time(at(11, 27, 10), closed)


# --- sla_state ------------------------------------------------------------------------


def _case(created: datetime, calendar: ServiceCalendar, **fields) -> Case:
    values = dict(
        number="AJ202611270001", status=CaseStatus.WAITING, created_at=created,
        first_response_due=first_response_due(created, calendar), first_responded_at=None,
        closed_at=None,
    )
    values.update(fields)
    return Case(**values)


@pytest.mark.parametrize(
    "minutes_later, state",
    [(0, SlaState.OK), (14, SlaState.OK), (15, SlaState.WARNING), (20, SlaState.WARNING),
     (21, SlaState.BREACHED), (600, SlaState.BREACHED)],
)
def test_an_unanswered_case_goes_from_ok_to_warning_to_breached(minutes_later, state, calendar):
    created = at(11, 27, 10)
    assert sla_state(_case(created, calendar), created + minutes_later * MINUTE, calendar) is state
    assert sla_state(
        _case(created, calendar, status=CaseStatus.OPEN), created + minutes_later * MINUTE, calendar
    ) is state


def test_an_answered_case_is_judged_by_when_it_was_answered(calendar):
    created = at(11, 27, 10)
    on_time = _case(
        created, calendar, status=CaseStatus.OPEN, first_responded_at=created + 20 * MINUTE
    )
    late = _case(
        created, calendar, status=CaseStatus.OPEN, first_responded_at=created + 21 * MINUTE
    )
    for now in (created + 20 * MINUTE, created + 30 * MINUTE, created + timedelta(days=3)):
        assert sla_state(on_time, now, calendar) is SlaState.OK
        assert sla_state(late, now, calendar) is SlaState.BREACHED


def test_an_ended_unanswered_case_is_judged_by_when_it_ended(calendar):
    created = at(11, 27, 10)
    withdrawn = _case(
        created, calendar, status=CaseStatus.RETURNED_TO_BOT, closed_at=created + 17 * MINUTE
    )
    timed_out = _case(
        created, calendar, status=CaseStatus.ABANDONED, closed_at=created + 40 * MINUTE
    )
    later = created + timedelta(hours=2)
    assert sla_state(withdrawn, later, calendar) is SlaState.OK
    assert sla_state(timed_out, later, calendar) is SlaState.BREACHED


def test_a_weekend_case_waits_calmly_until_monday(calendar):
    saturday = _case(at(11, 28, 11), calendar)
    assert saturday.first_response_due == at(11, 30, 9, 20)
    assert sla_state(saturday, at(11, 29, 20), calendar) is SlaState.OK
    assert sla_state(saturday, at(11, 30, 9, 14), calendar) is SlaState.OK
    assert sla_state(saturday, at(11, 30, 9, 15), calendar) is SlaState.WARNING
    assert sla_state(saturday, at(11, 30, 9, 21), calendar) is SlaState.BREACHED


def test_states_have_chinese_labels():
    assert [s.label for s in SlaState] == ["正常", "即将超时", "已超时"]
