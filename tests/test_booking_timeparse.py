"""Reading customers' time expressions relative to a fixed `now` (no clock)."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.booking.timeparse import RequestedTime, parse_requested_time
from bot.settings import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUNDAY = datetime(2026, 11, 29, 14, 0, tzinfo=SHANGHAI)
WEDNESDAY = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)


def at(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=SHANGHAI)


EXACT_ON_SUNDAY = [
    ("明天下午三点", at(2026, 11, 30, 15, 0)),
    # JioNLP's weeks start on Monday: on Sunday "下周一" is tomorrow.
    ("下周一上午十点", at(2026, 11, 30, 10, 0)),
    ("12月3号14:30", at(2026, 12, 3, 14, 30)),
    # Bare weekday already past this week: the coming Friday, not 11-27.
    ("周五晚上7点半", at(2026, 12, 4, 19, 30)),
    ("下午两点半", at(2026, 11, 29, 14, 30)),
    # A bare hour 1-8 is taken as afternoon at a bank.
    ("三点", at(2026, 11, 29, 15, 0)),
    ("明天两点", at(2026, 11, 30, 14, 0)),
    ("8点", at(2026, 11, 29, 20, 0)),
    ("早上8点", at(2026, 11, 29, 8, 0)),
    ("明天10点", at(2026, 11, 30, 10, 0)),
    ("明天12点", at(2026, 11, 30, 12, 0)),
    ("明天上午九点半", at(2026, 11, 30, 9, 30)),
    ("下午3点10分", at(2026, 11, 29, 15, 10)),
    ("12月3号下午两点半", at(2026, 12, 3, 14, 30)),
    ("12月3号14：30", at(2026, 12, 3, 14, 30)),  # full-width colon
    ("明早九点", at(2026, 11, 30, 9, 0)),  # JioNLP alone drops "明"
    ("明晚七点", at(2026, 11, 30, 19, 0)),
    # Month-day without a year already past this year: next year.
    ("1月5号上午10点", at(2027, 1, 5, 10, 0)),
    ("半小时后", at(2026, 11, 29, 14, 30)),  # relative: no afternoon shift
]


@pytest.mark.parametrize("text, start", EXACT_ON_SUNDAY)
def test_exact_times_on_sunday(text, start):
    result = parse_requested_time(text, SUNDAY)
    assert result == RequestedTime(start=start, end=start, exact=True, text=result.text)
    assert result.start.tzinfo is not None


PERIODS_ON_SUNDAY = [
    # JioNLP's "上午" starts at 7:00; the rules clip it to service hours.
    ("后天上午", at(2026, 12, 1, 7, 0), at(2026, 12, 1, 12, 0)),
    ("12月3日", at(2026, 12, 3), at(2026, 12, 4)),
    ("１２月３号", at(2026, 12, 3), at(2026, 12, 4)),  # full-width digits
    # Day of month already past this month: next month.
    ("3号上午", at(2026, 12, 3, 7, 0), at(2026, 12, 3, 12, 0)),
    ("周五", at(2026, 12, 4), at(2026, 12, 5)),
    ("星期三下午", at(2026, 12, 2, 13, 0), at(2026, 12, 2, 18, 0)),
    ("明天下午", at(2026, 11, 30, 13, 0), at(2026, 11, 30, 18, 0)),
    ("今晚", at(2026, 11, 29, 18, 0), at(2026, 11, 30)),  # not the whole day
    ("下周", at(2026, 11, 30), at(2026, 12, 7)),
    ("12月3号下午两点到三点", at(2026, 12, 3, 14, 0), at(2026, 12, 3, 15, 0)),
    ("下午三点以后", at(2026, 11, 29, 15, 0), at(2026, 11, 30)),
    ("下午三点左右", at(2026, 11, 29, 15, 0), at(2026, 11, 29, 16, 0)),
    ("明天10点到11点", at(2026, 11, 30, 10, 0), at(2026, 11, 30, 11, 0)),
]


@pytest.mark.parametrize("text, start, end", PERIODS_ON_SUNDAY)
def test_periods_on_sunday(text, start, end):
    result = parse_requested_time(text, SUNDAY)
    assert (result.start, result.end, result.exact) == (start, end, False)


WEDNESDAY_CASES = [
    ("明天下午三点", at(2026, 12, 3, 15, 0), True),
    ("下周一上午十点", at(2026, 12, 7, 10, 0), True),
    ("周五晚上7点半", at(2026, 12, 4, 19, 30), True),  # still ahead: no roll
    ("12月3号14:30", at(2026, 12, 3, 14, 30), True),
    ("下午两点半", at(2026, 12, 2, 14, 30), True),
    ("后天上午", at(2026, 12, 4, 7, 0), False),
    ("12月3日", at(2026, 12, 3), False),
    ("3号上午", at(2026, 12, 3, 7, 0), False),  # still ahead: no roll
    ("周一", at(2026, 12, 7), False),  # this Monday passed: next Monday
    ("上午九点", at(2026, 12, 2, 9, 0), True),  # earlier today: the rules say "in the past"
]


@pytest.mark.parametrize("text, start, exact", WEDNESDAY_CASES)
def test_on_a_wednesday(text, start, exact):
    result = parse_requested_time(text, WEDNESDAY)
    assert (result.start, result.exact) == (start, exact)


@pytest.mark.parametrize(
    "sentence, expression, start",
    [
        ("帮我约明天下午三点的开户", "明天下午三点", at(2026, 11, 30, 15, 0)),
        ("帮我预约一下12月3号下午两点半，谢谢", "12月3号下午两点半", at(2026, 12, 3, 14, 30)),
        ("我想下周三上午去网点开户", "下周三上午", at(2026, 12, 2, 7, 0)),
        ("明天上午10点半可以吗", "明天上午10点半", at(2026, 11, 30, 10, 30)),
        # A past time mentioned first; the request is the time still ahead.
        ("我上周约了，想改到明天下午三点", "明天下午三点", at(2026, 11, 30, 15, 0)),
    ],
)
def test_time_inside_a_sentence(sentence, expression, start):
    result = parse_requested_time(sentence, SUNDAY)
    assert (result.text, result.start) == (expression, start)


def test_anchored_dates_are_not_rolled_forward():
    # The customer said "this week's" / gave the year: their words win, even if past.
    assert parse_requested_time("这周五", SUNDAY).start == at(2026, 11, 27)
    assert parse_requested_time("2026年11月1日", SUNDAY).start == at(2026, 11, 1)
    assert parse_requested_time("昨天下午三点", SUNDAY).start == at(2026, 11, 28, 15, 0)


@pytest.mark.parametrize(
    "text",
    ["asdf", "", "   ", "随便", "什么时候都可以", "尽快", "我要办理2张卡", "电话13800138000", "一点也不急", None],
)
def test_no_time_gives_none(text):
    assert parse_requested_time(text, SUNDAY) is None


def test_vague_year_is_a_clear_non_exact_period():
    result = parse_requested_time("明年某天", SUNDAY)
    assert (result.start, result.end, result.exact) == (at(2027, 1, 1), at(2028, 1, 1), False)


@pytest.mark.parametrize(
    "text",
    ["99月99号", "2月30号", "31号", "25点", "第三点", "年月日", "\x00\x01", "😀🙂", "。。。", "1" * 500,
     "a" * 5000, "9999年12月31日23点59分", "公元1年1月1日", "周八", "下下下下周一", "12/3/4/5", "每周五下午4点", "三天"],
)
def test_odd_text_never_raises(text):
    result = parse_requested_time(text, SUNDAY)
    assert result is None or isinstance(result, RequestedTime)


def test_deterministic_given_now():
    first = parse_requested_time("后天上午", SUNDAY)
    assert all(parse_requested_time("后天上午", SUNDAY) == first for _ in range(3))


def test_now_in_another_timezone_is_read_in_shanghai_time():
    # 01:00 Monday in Shanghai is still Sunday in UTC. JioNLP reads a timestamp
    # time base in the process timezone, which would make "明天" Monday.
    monday_1am = at(2026, 11, 30, 1, 0)
    same_instant_utc = monday_1am.astimezone(timezone.utc)
    for now in (monday_1am, same_instant_utc):
        assert parse_requested_time("明天上午十点", now).start == at(2026, 12, 1, 10, 0)
    # A naive now is taken as Shanghai wall-clock time.
    assert parse_requested_time("明天上午十点", monday_1am.replace(tzinfo=None)).start == at(2026, 12, 1, 10, 0)


def test_importing_the_package_does_not_import_jionlp():
    code = "import sys, bot.booking; assert 'jionlp' not in sys.modules, 'imported eagerly'"
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""


def test_first_parse_prints_nothing():
    # JioNLP prints a banner on import; stdout may be a channel, keep it clean.
    code = (
        "from datetime import datetime; from zoneinfo import ZoneInfo; "
        "from bot.booking import parse_requested_time; "
        "r = parse_requested_time('明天下午三点', datetime(2026, 11, 29, 14, tzinfo=ZoneInfo('Asia/Shanghai'))); "
        "assert r.start.hour == 15"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""


def test_only_the_start_of_a_long_message_is_read():
    # JioNLP's cost grows quickly with long runs of time words; a booking
    # request is short, so a time after the first 100 characters is ignored.
    assert parse_requested_time("请问" * 60 + "明天下午三点", SUNDAY) is None
    assert parse_requested_time("请问" * 20 + "明天下午三点", SUNDAY).start == at(2026, 11, 30, 15, 0)
