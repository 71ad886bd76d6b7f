"""Read the time a customer asks for: "明天下午三点", "后天上午", "12月3号14:30".

JioNLP (``jio.ner.extract_time``) finds the time expression inside the
sentence and parses it relative to a time base; we only interpret its answer
for booking, and correct the few places where its literal reading is not what
a customer booking an appointment means (each marked "JioNLP quirk" below).

Deterministic: everything is relative to ``now``, which the caller passes in
(the customer's current time); the clock is never read here.

JioNLP is imported on first use, not at import time: importing it takes about
0.15-0.35 s, prints a banner to stdout (which we swallow), and may unzip its
dictionaries on a fresh install. The first parse then builds its extractor
(about another 0.1 s); later parses take a few milliseconds.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Iterable, List, Optional, Union

from bot.booking.calendar import zone

logger = logging.getLogger(__name__)

# Only the start of a message is read. JioNLP grid-searches every run of
# time-like characters, so its cost grows fast with them: measured here, 40
# characters of "明天明天..." take 0.5 s and 100 take 2.4 s, while a real
# booking sentence (20-40 characters) takes a few milliseconds.
MAX_TEXT_CHARS = 100

# A clock time no wider than this is "exact" (JioNLP gives "三点" as 3:00-3:59:59).
EXACT_MAX_WIDTH = timedelta(hours=1, minutes=1)

# Colloquial contractions JioNLP misreads (JioNLP quirk, see _normalize).
_CONTRACTIONS = (
    ("明早", "明天早上"),
    ("今早", "今天早上"),
    ("明晚", "明天晚上"),
    ("今晚", "今天晚上"),
)
# A part of the day, which settles whether "三点" is 3:00 or 15:00.
_DAY_PART = re.compile(r"午|早|晚|夜|凌晨|清晨|傍晚|黄昏|am|pm|a\.m|p\.m", re.IGNORECASE)
# A clock hour was said ("三点", "3:30", "15时"), not a duration like "三小时".
_CLOCK_HOUR = re.compile(r"(?:\d{1,2}|[零〇一二两三四五六七八九十]{1,3})\s*(?:点|时|:)")
# The customer anchored the date themselves ("下周五", "明天", "2027年"): keep it.
_EXPLICIT_ANCHOR = re.compile(
    r"年|今|明|昨|前天|后天|现在|刚才|[上下这本]个?(?:周|星期|礼拜|月)|[天周月]后|[天周月]前"
)
_MONTH_GIVEN = re.compile(r"月|\d{1,2}\s*[/.\-]\s*\d{1,2}")
_WEEKDAY_GIVEN = re.compile(r"(?:周|星期|礼拜)[一二三四五六日天末1-7]")
_DAY_OF_MONTH_GIVEN = re.compile(r"[号日]")

# JioNLP is not re-entrant: its parser keeps the time base on the instance.
_JIONLP_LOCK = threading.Lock()


@dataclass(frozen=True)
class RequestedTime:
    """The time a customer asked for, as aware datetimes in their timezone.

    ``exact``: a clock time was given ("下午三点"); then ``start == end``.
    Otherwise a period: ``[start, end)`` is the part of the day ("后天上午"),
    the whole day ("12月3日") or longer ("下周"), for the booking rules to
    offer slots inside it. ``text`` is the time expression as read.
    """

    start: datetime
    end: datetime
    exact: bool
    text: str


def parse_requested_time(
    text: Optional[str],
    now: datetime,
    *,
    timezone: Union[str, tzinfo, None] = None,
) -> Optional[RequestedTime]:
    """The first usable time in ``text`` relative to ``now``; None if there is none.

    ``now`` should be aware (a naive one is taken as local wall-clock time in
    ``timezone``, default the settings' Asia/Shanghai). Never raises on any
    text: whatever JioNLP cannot read, or reads as nonsense, gives None.
    Only the first ``MAX_TEXT_CHARS`` characters are read.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    tz = _resolve_timezone(timezone)
    local_now = now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)
    normalized = _normalize(text)[:MAX_TEXT_CHARS]
    try:
        entities = _extract_time(normalized, local_now.replace(tzinfo=None))
        readings = [r for r in (_interpret(e, local_now) for e in entities) if r is not None]
    except Exception:  # a library surprise must not break the dialogue
        logger.exception("cannot read a time in %r; treating it as no time", normalized)
        return None
    if not readings:
        return None
    # "上周约了，改到明天下午三点": the customer's request is the time still ahead.
    for reading in readings:
        if reading.end >= local_now:
            return reading
    return readings[0]


# -- JioNLP ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _jionlp() -> Any:
    """Import JioNLP once, on first use, without its stdout banner."""
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp
    return jionlp


def _extract_time(text: str, wall_clock_now: datetime) -> List[dict]:
    jio = _jionlp()
    with _JIONLP_LOCK:
        # JioNLP quirk: a timestamp time_base goes through
        # datetime.fromtimestamp(), i.e. the *server process's* timezone (UTC in
        # our containers), so "明天" said at 01:00 in Shanghai was read as
        # today. A naive datetime is taken field by field as the wall clock,
        # which is what we want: the customer's local time.
        return jio.ner.extract_time(text, time_base=wall_clock_now, with_parsing=True)


def _interpret(entity: dict, now: datetime) -> Optional[RequestedTime]:
    """One JioNLP entity as a booking request, or None if it is not one."""
    try:
        detail = entity["detail"]
        kind = detail["type"]
        if kind not in ("time_point", "time_span"):
            return None  # durations ("三天") and recurrences ("每周五") are not requests
        expression = str(entity.get("text", ""))
        first, last = detail["time"]
        start = _parse_bound(first)
        end = _parse_bound(last)
    except Exception:
        logger.debug("unusable JioNLP entity %r", entity, exc_info=True)
        return None
    if start is None and end is None:
        return None
    # JioNLP quirk: open spans come back as "inf"/"-inf" ("下午三点以后");
    # close them at the edges of the day they start (end) in.
    if end is None:
        end = start.replace(hour=23, minute=59, second=59)
    if start is None:
        start = max(end.replace(hour=0, minute=0, second=0), now.replace(tzinfo=None))

    end = _fix_inverted_span(start, end)
    exact = (
        kind == "time_point"
        and detail.get("definition") == "accurate"
        and end - start <= EXACT_MAX_WIDTH
    )
    start, end = _assume_business_hours(expression, start, end)
    start, end = _roll_forward_if_past(expression, start, end, now)

    # JioNLP ends periods inclusively at hh:mm:59; ours are half-open.
    if end.second == 59:
        end += timedelta(seconds=1)
    tz = now.tzinfo
    start = start.replace(tzinfo=tz)
    end = start if exact else end.replace(tzinfo=tz)
    return RequestedTime(start=start, end=end, exact=exact, text=expression)


def _parse_bound(value: object) -> Optional[datetime]:
    if isinstance(value, str) and value.strip().lstrip("+-") == "inf":
        return None
    return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")


# -- corrections (each one a JioNLP quirk or a booking assumption) ------------


def _normalize(text: str) -> str:
    """Full-width to ASCII, and colloquial contractions JioNLP misreads.

    JioNLP quirks: "１２月３号" (full-width digits) is not recognised at all;
    "明早九点" is extracted as "早九点", losing "明" (tomorrow) and giving
    today; "今晚"/"明晚" alone give the whole day instead of the evening.
    NFKC also turns "14：30" into "14:30". Traditional script arrives already
    converted to Simplified by the NLU pipeline.
    """
    normalized = unicodedata.normalize("NFKC", text)
    for short, spelled_out in _CONTRACTIONS:
        normalized = normalized.replace(short, spelled_out)
    return normalized


def _fix_inverted_span(start: datetime, end: datetime) -> datetime:
    """JioNLP quirk: "下午两点到三点" ends at 03:00, before it starts."""
    if end >= start:
        return end
    afternoon_end = end + timedelta(hours=12)
    if afternoon_end > start and afternoon_end.date() == start.date():
        return afternoon_end
    return start.replace(hour=23, minute=59, second=59)


def _assume_business_hours(expression: str, start: datetime, end: datetime):
    """A bare "三点" means 15:00 at a bank, not 03:00 (JioNLP's reading).

    Booking assumption: a clock hour 1-8 said without 上午/下午/晚上 etc. is
    taken as afternoon/evening (13:00-20:00): the service opens at 9:00, so
    nobody books 03:00, and "八点" is more likely 20:00 (open) than 8:00.
    Hours 9-12 stay as said (morning/noon); 0 stays midnight. Relative
    times ("半小时后") have no clock hour and are left alone.
    """
    if (
        _CLOCK_HOUR.search(expression)
        and not _DAY_PART.search(expression)
        and 1 <= start.hour <= 8
        and end - start < timedelta(days=1)
    ):
        return start + timedelta(hours=12), end + timedelta(hours=12)
    return start, end


def _roll_forward_if_past(expression: str, start: datetime, end: datetime, now: datetime):
    """A date without year/week/month that already passed means the next one.

    JioNLP quirk: it resolves a bare weekday within the current (Monday-first)
    week, so "周五" said on Sunday 2026-11-29 is Friday 2026-11-27, and
    resolves "3号"/"12月3日" within the current month/year even when past.
    Customers booking mean the next coming one, so we move such a date
    forward by a week, a month or a year until it is today or later. An
    expression the customer anchored ("这周五", "昨天", "2026年11月1日") and a
    clock time earlier today are left alone: the rules answer "in the past".
    (JioNLP's own ``ret_future=True`` is not usable: it moves even future
    dates one period ahead, "周五" on a Monday became the Friday after next.)
    """
    today = now.date()
    if start.date() >= today or _EXPLICIT_ANCHOR.search(expression):
        return start, end
    if _MONTH_GIVEN.search(expression):
        shifts: Iterable = (_shift_years(start, n) for n in range(1, 9))
    elif _WEEKDAY_GIVEN.search(expression):
        shifts = (start + timedelta(weeks=n) for n in range(1, 3))
    elif _DAY_OF_MONTH_GIVEN.search(expression):
        shifts = (_shift_months(start, n) for n in range(1, 13))
    else:
        return start, end
    width = end - start
    for shifted in shifts:
        if shifted is not None and shifted.date() >= today:
            return shifted, shifted + width
    return start, end


def _shift_years(moment: datetime, years: int) -> Optional[datetime]:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 2月29日 in a common year
        return None


def _shift_months(moment: datetime, months: int) -> Optional[datetime]:
    index = moment.month - 1 + months
    try:
        return moment.replace(year=moment.year + index // 12, month=index % 12 + 1)
    except ValueError:  # "31号" in a 30-day month
        return None


def _resolve_timezone(timezone: Union[str, tzinfo, None]) -> tzinfo:
    if timezone is None:
        from bot.settings import get_settings

        timezone = get_settings().timezone
    return zone(timezone) if isinstance(timezone, str) else timezone
