"""Booking rules with a fixed `now`: verdicts, messages and alternatives."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.booking.calendar import DayKind, ServiceCalendar
from bot.booking.rules import (
    BookingPolicy,
    Reason,
    candidate_slots,
    check_request,
    format_day,
    format_slot,
)
from bot.booking.timeparse import RequestedTime, parse_requested_time

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUNDAY = datetime(2026, 11, 29, 14, 0, tzinfo=SHANGHAI)
WEDNESDAY = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)


def at(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=SHANGHAI)


def period(start: datetime, end: datetime, text: str = "") -> RequestedTime:
    return RequestedTime(start=start, end=end, exact=False, text=text)


@pytest.fixture
def calendar() -> ServiceCalendar:
    return ServiceCalendar()


def assert_all_bookable(slots, now, calendar, policy=BookingPolicy()):
    for slot in slots:
        assert slot > now
        assert slot.date() <= now.date() + timedelta(days=policy.window_days)
        opens, closes = calendar.opening_hours(slot.date())
        assert opens <= slot and slot + policy.service <= closes
        assert slot.minute in (0, 30) and slot.second == 0
    assert list(slots) == sorted(slots)


def test_a_valid_slot_is_ok(calendar):
    check = check_request(at(2026, 12, 3, 14, 30), WEDNESDAY, calendar)
    assert check.ok and check.reason is Reason.OK
    assert check.slot == at(2026, 12, 3, 14, 30)
    assert check.alternatives == ()
    assert check.message == "好的，12月3日（周四）14:30可以预约。"


def test_in_the_past_offers_the_nearest_later_slots(calendar):
    check = check_request(at(2026, 12, 2, 9, 30), WEDNESDAY, calendar)
    assert check.reason is Reason.IN_PAST
    assert check.alternatives == (at(2026, 12, 2, 10, 30), at(2026, 12, 2, 11, 0), at(2026, 12, 2, 11, 30))
    assert check.message.startswith("抱歉，12月2日（周三）9:30已经过去了，无法预约。您可以选择以下时间：")
    assert check.message.endswith("12月2日（周三）10:30、11:00、11:30。")
    # "now" itself is not bookable any more.
    assert check_request(WEDNESDAY, WEDNESDAY, calendar).reason is Reason.IN_PAST


def test_thirty_days_ahead_is_bookable_thirty_one_is_not(calendar):
    # Sunday 2026-11-29 + 30 days = Tuesday 12-29; + 31 = Wednesday 12-30.
    assert check_request(at(2026, 12, 29, 21, 30), SUNDAY, calendar).ok
    too_far = check_request(at(2026, 12, 30, 10, 0), SUNDAY, calendar)
    assert too_far.reason is Reason.TOO_FAR
    assert "只能预约30天内的时间（最晚到12月29日（周二））" in too_far.message
    # The latest slots inside the window, never beyond it.
    assert too_far.alternatives == (at(2026, 12, 29, 20, 30), at(2026, 12, 29, 21, 0), at(2026, 12, 29, 21, 30))
    assert_all_bookable(too_far.alternatives, SUNDAY, calendar)


def test_statutory_holiday_2026_national_day(calendar):
    now = at(2026, 9, 28, 10, 0)
    check = check_request(at(2026, 10, 1, 10, 0), now, calendar)
    assert check.reason is Reason.HOLIDAY
    assert check.day_status.reason == "国庆节假期"
    assert check.message.startswith("抱歉，10月1日（周四）是国庆节假期，人工服务暂停。您可以选择以下时间：")
    # Following open days: the break lasts until 10-07.
    assert check.alternatives == (at(2026, 10, 8, 9, 0), at(2026, 10, 8, 9, 30), at(2026, 10, 8, 10, 0))


def test_make_up_working_day_2026_is_open(calendar):
    # 2026-10-10 is a Saturday that chinesecalendar lists as a working day.
    check = check_request(at(2026, 10, 10, 10, 0), at(2026, 9, 28, 10, 0), calendar)
    assert check.ok
    assert check.day_status.kind is DayKind.MAKEUP_WORKDAY


def test_weekend_is_closed(calendar):
    check = check_request(at(2026, 12, 5, 10, 0), WEDNESDAY, calendar)
    assert check.reason is Reason.WEEKEND
    assert check.message.startswith("抱歉，12月5日（周六）不是工作日，人工服务暂停。您可以选择以下时间：")
    assert check.alternatives == (at(2026, 12, 7, 9, 0), at(2026, 12, 7, 9, 30), at(2026, 12, 7, 10, 0))


def test_a_2027_date_uses_the_fallback_file_and_logs_a_warning(calendar, caplog):
    now = at(2026, 12, 20, 10, 0)  # a Sunday; window ends 2027-01-19
    with caplog.at_level(logging.WARNING, logger="bot.booking.calendar"):
        new_year = check_request(at(2027, 1, 1, 10, 0), now, calendar)
        monday = check_request(at(2027, 1, 4, 10, 0), now, calendar)
    assert new_year.reason is Reason.HOLIDAY
    assert "2027年1月1日（周五）是元旦假期" in new_year.message
    assert all(slot.date() >= date(2027, 1, 4) for slot in new_year.alternatives)
    assert monday.ok
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "2027" in r.getMessage()]
    assert len(warnings) == 1


def test_service_must_end_by_closing_time(calendar):
    check = check_request(at(2026, 12, 3, 21, 45), WEDNESDAY, calendar)
    assert check.reason is Reason.OUTSIDE_HOURS
    assert "每次服务约需30分钟，需在22:00前结束" in check.message
    assert check.alternatives == (at(2026, 12, 3, 20, 30), at(2026, 12, 3, 21, 0), at(2026, 12, 3, 21, 30))
    assert check_request(at(2026, 12, 3, 21, 30), WEDNESDAY, calendar).ok
    hour_long = BookingPolicy(service_minutes=60)
    assert check_request(at(2026, 12, 3, 21, 30), WEDNESDAY, calendar, policy=hour_long).reason is (
        Reason.OUTSIDE_HOURS
    )
    assert candidate_slots(at(2026, 12, 3, 21, 45), WEDNESDAY, calendar, policy=hour_long)[-1] == at(2026, 12, 3, 21, 0)


def test_before_opening(calendar):
    check = check_request(at(2026, 12, 3, 8, 30), WEDNESDAY, calendar)
    assert check.reason is Reason.OUTSIDE_HOURS
    assert "不在人工服务时间内（工作日9:00-22:00）" in check.message
    assert check.alternatives == (at(2026, 12, 3, 9, 0), at(2026, 12, 3, 9, 30), at(2026, 12, 3, 10, 0))
    assert check_request(at(2026, 12, 3, 22, 0), WEDNESDAY, calendar).reason is Reason.OUTSIDE_HOURS


def test_off_grid_time_is_refused_with_the_nearest_slots(calendar):
    check = check_request(at(2026, 12, 3, 14, 10), WEDNESDAY, calendar)
    assert check.reason is Reason.NOT_ALIGNED
    assert "预约时间需为整点或半点" in check.message
    assert check.alternatives == (at(2026, 12, 3, 13, 30), at(2026, 12, 3, 14, 0), at(2026, 12, 3, 14, 30))


def test_period_offers_slots_inside_it_only(calendar):
    requested = parse_requested_time("后天上午", SUNDAY)  # Tuesday 12-01, JioNLP: 7:00-12:00
    check = check_request(requested, SUNDAY, calendar)
    assert check.reason is Reason.NOT_EXACT
    assert check.alternatives == (at(2026, 12, 1, 9, 0), at(2026, 12, 1, 9, 30), at(2026, 12, 1, 10, 0))
    assert check.message == "好的，12月1日（周二）9:00-12:00可以预约的时间有：9:00、9:30、10:00。请问您选择哪个时间？"
    many = candidate_slots(requested, SUNDAY, calendar, count=20)
    assert many[0] == at(2026, 12, 1, 9, 0) and many[-1] == at(2026, 12, 1, 11, 30)
    assert len(many) == 6


def test_full_slots_are_skipped(calendar):
    requested = parse_requested_time("后天上午", SUNDAY)
    full = {at(2026, 12, 1, 9, 0), at(2026, 12, 1, 9, 30)}
    check = check_request(requested, SUNDAY, calendar, is_free=lambda s: s not in full)
    assert check.alternatives == (at(2026, 12, 1, 10, 0), at(2026, 12, 1, 10, 30), at(2026, 12, 1, 11, 0))

    # An exact time that is full: the nearest free ones around it.
    full = {at(2026, 12, 3, h, m) for h, m in [(13, 30), (14, 0), (14, 30)]}
    check = check_request(at(2026, 12, 3, 14, 0), WEDNESDAY, calendar, is_free=lambda s: s not in full)
    assert check.reason is Reason.FULLY_BOOKED
    assert check.message.startswith("抱歉，12月3日（周四）14:00已经约满了。")
    assert check.alternatives == (at(2026, 12, 3, 12, 30), at(2026, 12, 3, 13, 0), at(2026, 12, 3, 15, 0))


def test_a_full_period_offers_the_nearest_slots_outside_it(calendar):
    requested = parse_requested_time("后天上午", SUNDAY)
    morning_full = lambda s: not (s.date() == date(2026, 12, 1) and s.hour < 12)  # noqa: E731
    check = check_request(requested, SUNDAY, calendar, is_free=morning_full)
    assert check.reason is Reason.FULLY_BOOKED
    assert check.alternatives == (at(2026, 12, 1, 12, 0), at(2026, 12, 1, 12, 30), at(2026, 12, 1, 13, 0))


def test_nothing_free_at_all(calendar):
    check = check_request(at(2026, 12, 3, 14, 0), WEDNESDAY, calendar, is_free=lambda s: False)
    assert check.reason is Reason.FULLY_BOOKED and check.alternatives == ()
    assert check.message.endswith("近期暂无可预约的时间，请您稍后再试，感谢您的理解。")


@pytest.mark.parametrize(
    "requested, reason",
    [
        (period(at(2026, 12, 5, 7), at(2026, 12, 5, 12), "周六上午"), Reason.WEEKEND),
        (period(at(2026, 10, 1), at(2026, 10, 2), "国庆节"), Reason.IN_PAST),
        (period(at(2026, 12, 2, 7), at(2026, 12, 2, 9, 30), "今天早上"), Reason.IN_PAST),
        (period(at(2026, 12, 3, 0), at(2026, 12, 3, 6), "明天凌晨"), Reason.OUTSIDE_HOURS),
        (period(at(2027, 2, 1), at(2027, 3, 1), "明年2月"), Reason.TOO_FAR),
        (period(at(2026, 12, 3), at(2026, 12, 4), "明天"), Reason.NOT_EXACT),
    ],
)
def test_period_verdicts(calendar, requested, reason):
    check = check_request(requested, WEDNESDAY, calendar)
    assert check.reason is reason
    assert_all_bookable(check.alternatives, WEDNESDAY, calendar)
    assert check.alternatives  # something to offer in every case


def test_afternoon_already_over_today(calendar):
    late = at(2026, 12, 2, 17, 50)
    check = check_request(period(at(2026, 12, 2, 13), at(2026, 12, 2, 18), "今天下午"), late, calendar)
    assert check.reason is Reason.IN_PAST
    assert check.alternatives == (at(2026, 12, 2, 18, 0), at(2026, 12, 2, 18, 30), at(2026, 12, 2, 19, 0))


def test_candidates_never_in_the_past_or_beyond_the_window(calendar):
    for requested in [at(2026, 12, 29, 21, 30), at(2026, 11, 1, 10), at(2027, 6, 1, 10), SUNDAY]:
        slots = candidate_slots(requested, SUNDAY, calendar, count=10)
        assert len(slots) == 10
        assert_all_bookable(slots, SUNDAY, calendar)


def test_deterministic(calendar):
    requested = parse_requested_time("周五晚上7点半", SUNDAY)
    first = check_request(requested, SUNDAY, calendar)
    assert first.ok and first.slot == at(2026, 12, 4, 19, 30)
    assert all(check_request(requested, SUNDAY, calendar) == first for _ in range(3))


def test_parsed_requests_end_to_end(calendar):
    def verdict(text, now=SUNDAY):
        return check_request(parse_requested_time(text, now), now, calendar).reason

    assert verdict("帮我约明天下午三点的开户") is Reason.OK
    assert verdict("12月3号14:30") is Reason.OK
    assert verdict("下午两点半") is Reason.WEEKEND  # Sunday itself
    assert verdict("12月3日") is Reason.NOT_EXACT
    assert verdict("明年某天") is Reason.TOO_FAR
    assert verdict("上午九点", WEDNESDAY) is Reason.IN_PAST


def test_formatting():
    assert format_day(date(2026, 12, 5)) == "12月5日（周六）"
    assert format_day(date(2027, 1, 1), SUNDAY) == "2027年1月1日（周五）"
    assert format_slot(at(2026, 12, 3, 9, 0), SUNDAY) == "12月3日（周四）9:00"


@pytest.mark.parametrize(
    "requested",
    [
        datetime(9999, 12, 31, 10, tzinfo=SHANGHAI),
        datetime(1, 1, 1, 10, tzinfo=SHANGHAI),
        datetime(2026, 12, 3, 10),  # naive: Shanghai wall-clock time
        period(at(2026, 12, 3), datetime(9999, 12, 31, 23, 59, tzinfo=SHANGHAI)),
    ],
)
def test_extreme_dates_never_crash(calendar, requested):
    check = check_request(requested, WEDNESDAY, calendar)
    assert check.message
    assert_all_bookable(check.alternatives, WEDNESDAY, calendar)
