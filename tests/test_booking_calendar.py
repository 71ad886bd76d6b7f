"""The service calendar: working days, holidays, make-up days, fallback file."""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.booking.calendar import DayKind, DaySource, ServiceCalendar, load_holiday_file
from bot.settings import get_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOGGER = "bot.booking.calendar"


def at(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=SHANGHAI)


@pytest.fixture
def calendar() -> ServiceCalendar:
    return ServiceCalendar()


def fallback_warnings(caplog, year: int):
    return [
        r for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.WARNING and f"for {year}" in r.getMessage()
    ]


# -- chinesecalendar years ----------------------------------------------------


@pytest.mark.parametrize(
    "day, working, kind, reason",
    [
        (date(2026, 10, 1), False, DayKind.HOLIDAY, "国庆节假期"),
        (date(2026, 10, 4), False, DayKind.HOLIDAY, "国庆节假期"),  # a Sunday inside the break
        (date(2026, 9, 25), False, DayKind.HOLIDAY, "中秋节假期"),
        (date(2026, 2, 17), False, DayKind.HOLIDAY, "春节假期"),
        (date(2026, 10, 10), True, DayKind.MAKEUP_WORKDAY, "调休工作日"),  # a Saturday
        (date(2026, 9, 20), True, DayKind.MAKEUP_WORKDAY, "调休工作日"),  # a Sunday
        (date(2026, 11, 28), False, DayKind.WEEKEND, "周末"),
        (date(2026, 11, 30), True, DayKind.WORKDAY, "工作日"),
    ],
)
def test_official_schedule(calendar, day, working, kind, reason):
    status = calendar.day_status(day)
    assert (status.is_working_day, status.kind, status.reason, status.source) == (
        working, kind, reason, DaySource.OFFICIAL,
    )
    assert calendar.is_working_day(day) is working


def test_make_up_days_found_by_searching_2026(calendar):
    # Every weekend day chinesecalendar marks as a working day is open.
    import chinese_calendar

    day, makeups = date(2026, 1, 1), []
    while day.year == 2026:
        if day.weekday() >= 5 and chinese_calendar.is_workday(day):
            makeups.append(day)
        day += timedelta(days=1)
    assert date(2026, 10, 10) in makeups
    assert all(calendar.day_status(d).kind is DayKind.MAKEUP_WORKDAY for d in makeups)
    assert all(calendar.opening_hours(d) is not None for d in makeups)


def test_official_years_do_not_read_the_file(tmp_path, caplog):
    calendar = ServiceCalendar(tmp_path / "missing.yml")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        calendar.day_status(date(2026, 6, 1))
    assert caplog.records == []


# -- hours --------------------------------------------------------------------


def test_opening_hours_are_9_to_22_on_working_days(calendar):
    assert calendar.opening_hours(date(2026, 12, 2)) == (at(2026, 12, 2, 9), at(2026, 12, 2, 22))
    assert calendar.opening_hours(date(2026, 12, 5)) is None  # Saturday
    assert calendar.opening_hours(date(2026, 10, 1)) is None  # National Day


@pytest.mark.parametrize(
    "moment, is_open",
    [
        (at(2026, 12, 2, 8, 59), False),
        (at(2026, 12, 2, 9, 0), True),
        (at(2026, 12, 2, 21, 59), True),
        (at(2026, 12, 2, 22, 0), False),  # closing time itself is closed
        (at(2026, 10, 10, 10, 0), True),  # make-up Saturday
        (at(2026, 10, 1, 10, 0), False),
        (at(2026, 12, 5, 10, 0), False),
        (datetime(2026, 12, 2, 1, 30, tzinfo=ZoneInfo("UTC")), True),  # 9:30 in Shanghai
        (datetime(2026, 12, 2, 10, 0), True),  # naive: Shanghai wall-clock time
    ],
)
def test_is_open(calendar, moment, is_open):
    assert calendar.is_open(moment) is is_open


def test_hours_are_constructor_parameters():
    calendar = ServiceCalendar(opens=time(10), closes=time(18))
    assert calendar.opening_hours(date(2026, 12, 2)) == (at(2026, 12, 2, 10), at(2026, 12, 2, 18))
    with pytest.raises(ValueError):
        ServiceCalendar(opens=time(18), closes=time(10))


def test_defaults_come_from_settings(calendar):
    assert calendar.holiday_file == get_settings().holiday_file
    assert str(calendar.tz) == get_settings().timezone == "Asia/Shanghai"


def test_next_open_times_skip_closed_time(calendar):
    # Friday 21:40: Saturday and Sunday closed, then Monday from 9:00.
    assert calendar.next_open_times(at(2026, 12, 4, 21, 40), limit=3) == [
        at(2026, 12, 7, 9, 0), at(2026, 12, 7, 9, 30), at(2026, 12, 7, 10, 0),
    ]
    # The whole National Day break is skipped.
    assert calendar.next_open_times(at(2026, 9, 30, 21, 45), limit=1) == [at(2026, 10, 8, 9, 0)]
    # Aligned to the grid; a slot must fit before closing.
    assert calendar.next_open_times(at(2026, 12, 2, 14, 10), limit=2) == [
        at(2026, 12, 2, 14, 30), at(2026, 12, 2, 15, 0),
    ]
    assert calendar.next_open_times(
        at(2026, 12, 2, 21, 0), limit=1, duration=timedelta(hours=1)
    ) == [at(2026, 12, 2, 21, 0)]
    assert calendar.next_open_times(
        at(2026, 12, 2, 21, 1), limit=1, duration=timedelta(hours=1)
    ) == [at(2026, 12, 3, 9, 0)]


# -- years chinesecalendar does not know: the operator file ---------------------


def test_2027_uses_the_operator_file_and_warns_once(calendar, caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        new_year = calendar.day_status(date(2027, 1, 1))
        spring = calendar.day_status(date(2027, 2, 8))
        makeup = calendar.day_status(date(2027, 2, 14))  # a Sunday
        plain = calendar.day_status(date(2027, 3, 1))
        weekend = calendar.day_status(date(2027, 3, 6))
        calendar.is_open(at(2027, 3, 1, 10))
    assert (new_year.kind, new_year.reason, new_year.source) == (DayKind.HOLIDAY, "元旦假期", DaySource.HOLIDAY_FILE)
    assert (spring.kind, spring.reason) == (DayKind.HOLIDAY, "春节假期")
    assert (makeup.kind, makeup.reason, makeup.is_working_day) == (DayKind.MAKEUP_WORKDAY, "调休工作日", True)
    assert (plain.kind, plain.source) == (DayKind.WORKDAY, DaySource.WEEKDAY_RULE)
    assert (weekend.kind, weekend.reason) == (DayKind.WEEKEND, "周末")
    assert len(fallback_warnings(caplog, 2027)) == 1


def test_shipped_2027_estimates_cover_every_statutory_holiday():
    overrides = load_holiday_file(get_settings().holiday_file)
    names = {name for day, name in overrides.holidays.items() if day.year == 2027}
    assert names == {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}
    assert date(2027, 2, 6) in overrides.holidays  # lunar new year
    assert date(2027, 10, 7) in overrides.holidays
    assert all(day.weekday() >= 5 for day in overrides.workdays)


@pytest.mark.parametrize(
    "day", [date(9999, 12, 31), date(1, 1, 1), date(2003, 12, 31), date(2100, 2, 28)]
)
def test_any_date_works_with_the_weekday_rule(calendar, caplog, day):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        status = calendar.day_status(day)
        calendar.opening_hours(day)
    assert status.is_working_day is (day.weekday() < 5)
    assert len(fallback_warnings(caplog, day.year)) == 1


def test_slot_search_stops_at_the_end_of_the_calendar(calendar):
    assert calendar.next_open_times(at(9999, 12, 31, 21, 0), limit=5) == [
        at(9999, 12, 31, 21, 0), at(9999, 12, 31, 21, 30),
    ]
    assert calendar.next_open_times(datetime.max, limit=1) == []


@pytest.mark.parametrize(
    "content",
    [
        "2027: [oops",  # not YAML
        "- just\n- a list\n",  # not a mapping of years
        "2027: nonsense\n",  # a year block that is not a mapping
        "2027:\n  holidays: 5\n",  # holidays not a list
        "\x00\x01binary",
    ],
)
def test_malformed_file_logs_an_error_and_uses_the_weekday_rule(tmp_path, caplog, content):
    path = tmp_path / "holidays.yml"
    path.write_text(content, encoding="utf-8")
    calendar = ServiceCalendar(path)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        friday = calendar.day_status(date(2027, 1, 1))
        saturday = calendar.day_status(date(2027, 1, 2))
    assert (friday.kind, friday.source) == (DayKind.WORKDAY, DaySource.WEEKDAY_RULE)
    assert saturday.kind is DayKind.WEEKEND
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_missing_file_logs_an_error_and_uses_the_weekday_rule(tmp_path, caplog):
    calendar = ServiceCalendar(tmp_path / "nowhere.yml")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert calendar.is_working_day(date(2027, 1, 1))  # a Friday
    assert any(r.levelno == logging.ERROR and "does not exist" in r.getMessage() for r in caplog.records)


def test_bad_entries_are_skipped_and_good_ones_kept(tmp_path, caplog):
    path = tmp_path / "holidays.yml"
    path.write_text(
        "2027:\n"
        "  holidays:\n"
        "    - {name: 元旦, start: not-a-date}\n"
        "    - {name: 太长, start: 2027-03-01, end: 2027-12-31}\n"  # implausible range
        "    - {name: 反了, start: 2027-04-10, end: 2027-04-01}\n"
        "    - just a string\n"
        "    - {name: 春节, start: '2027-02-05', end: 2027-02-13}\n"
        "  workdays:\n"
        "    - {name: 春节}\n"
        "    - {name: 春节, date: 2027-02-14}\n"
        "    - {name: 冲突, date: 2027-02-06}\n",  # also a holiday: holiday wins
        encoding="utf-8",
    )
    calendar = ServiceCalendar(path)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert calendar.day_status(date(2027, 2, 8)).reason == "春节假期"
        assert calendar.day_status(date(2027, 2, 14)).is_working_day
        assert calendar.day_status(date(2027, 2, 6)).kind is DayKind.HOLIDAY
        assert calendar.day_status(date(2027, 3, 1)).kind is DayKind.WORKDAY
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 6


def test_file_is_read_lazily_once_and_reload_rereads(tmp_path):
    path = tmp_path / "holidays.yml"
    path.write_text("2027:\n  holidays:\n    - {name: 元旦, start: 2027-01-01}\n", encoding="utf-8")
    calendar = ServiceCalendar(path)
    path.write_text("2027:\n  holidays:\n    - {name: 元旦, start: 2027-01-04}\n", encoding="utf-8")
    # Not read at construction: the first 2027 question reads the current file.
    assert calendar.day_status(date(2027, 1, 4)).kind is DayKind.HOLIDAY
    path.write_text("", encoding="utf-8")
    assert calendar.day_status(date(2027, 1, 4)).kind is DayKind.HOLIDAY  # cached
    calendar.reload()
    assert calendar.day_status(date(2027, 1, 4)).kind is DayKind.WORKDAY
