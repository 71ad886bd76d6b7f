"""Whether a requested appointment time can be booked, and what to offer instead.

The rules a bank's service desk applies before looking at capacity:

- not in the past, and at most ``window_days`` (30) calendar days ahead: any
  time on the 30th day after today is still bookable, the 31st is not;
- on a working day of the ServiceCalendar (holidays and weekends closed,
  make-up working days open), inside service hours 9:00-22:00, and the
  service (30 minutes by default) must end by closing time;
- appointments start on the hour or half hour (the 30-minute slot grid from
  opening time). A time off the grid such as 14:10 is *not* silently moved:
  like a teller would, we say so and offer the nearest slots (14:00, 14:30),
  because changing a customer's appointment without asking is worse than one
  more question.

Capacity belongs to the database: callers pass ``is_free(start) -> bool``.
Everything is relative to the caller's ``now``; nothing here reads the clock.
Customer-facing messages are Simplified Chinese in a service-desk register.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import groupby
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from bot.booking.calendar import WEEKDAY_NAMES_ZH, DayKind, DayStatus, ServiceCalendar, get_calendar
from bot.booking.timeparse import RequestedTime

IsFree = Callable[[datetime], bool]


@dataclass(frozen=True)
class BookingPolicy:
    window_days: int = 30  # bookable up to today + 30 calendar days
    slot_minutes: int = 30  # appointments start on this grid from opening time
    service_minutes: int = 30  # must end by closing time

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def service(self) -> timedelta:
        return timedelta(minutes=self.service_minutes)

    def last_bookable_day(self, now: datetime) -> date:
        return now.date() + timedelta(days=self.window_days)


DEFAULT_POLICY = BookingPolicy()


class Reason(str, enum.Enum):
    OK = "ok"
    IN_PAST = "in_past"
    TOO_FAR = "too_far"
    HOLIDAY = "holiday"  # statutory holiday
    WEEKEND = "weekend"  # a closed weekend day (make-up working days are open)
    OUTSIDE_HOURS = "outside_hours"  # before opening, or would end after closing
    NOT_ALIGNED = "not_aligned"  # not on the hour / half hour
    NOT_EXACT = "not_exact"  # a period ("后天上午"): choose one of the offered slots
    FULLY_BOOKED = "fully_booked"  # valid, but is_free said no


@dataclass(frozen=True)
class BookingCheck:
    """The verdict on a request: a reason for the dialogue, a message for the customer."""

    reason: Reason
    message: str
    slot: Optional[datetime] = None  # the bookable start when reason is OK
    alternatives: Tuple[datetime, ...] = ()  # slots to offer, in time order
    day_status: Optional[DayStatus] = None  # the requested day's calendar status

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK


# -- public API ---------------------------------------------------------------


def check_request(
    requested: Union[RequestedTime, datetime],
    now: datetime,
    calendar: Optional[ServiceCalendar] = None,
    *,
    is_free: Optional[IsFree] = None,
    count: int = 3,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> BookingCheck:
    """Check a requested time against the booking rules.

    An exact time gives OK (with ``slot``) or the first broken rule with up to
    ``count`` nearest alternatives. A period ("后天上午", "12月3日") gives
    NOT_EXACT with the free slots inside it, or the rule that empties it.
    """
    calendar = calendar or get_calendar()
    now = calendar.localize(now)
    requested = _as_requested(requested, calendar)
    if requested.exact:
        return _check_exact(requested, now, calendar, is_free, count, policy)
    return _check_period(requested, now, calendar, is_free, count, policy)


def candidate_slots(
    requested: Union[RequestedTime, datetime],
    now: datetime,
    calendar: Optional[ServiceCalendar] = None,
    count: int = 3,
    is_free: Optional[IsFree] = None,
    *,
    policy: BookingPolicy = DEFAULT_POLICY,
) -> List[datetime]:
    """Up to ``count`` valid, free slot starts nearest the request, in time order.

    For a period with free slots inside it, the earliest of those. Otherwise
    the slots closest to the requested time on the same day, then the
    earliest on the following open days; if the booking window ends first
    (a request too far ahead), the latest slots before it. Never in the past
    (after ``now``) and never beyond the window.
    """
    calendar = calendar or get_calendar()
    now = calendar.localize(now)
    requested = _as_requested(requested, calendar)
    if count <= 0:
        return []
    free = is_free or (lambda start: True)
    if not requested.exact:
        inside = _take(
            (s for s in _bookable_between(requested.start, requested.end, now, calendar, policy) if free(s)),
            count,
        )
        if inside:
            return inside
    return sorted(_take((s for s in _nearest_first(requested.start, now, calendar, policy) if free(s)), count))


def format_day(day: Union[date, datetime], now: Optional[datetime] = None) -> str:
    """"12月5日（周六）"; with the year when it is not ``now``'s year."""
    if isinstance(day, datetime):
        day = day.date()
    year = f"{day.year}年" if now is not None and day.year != now.year else ""
    return f"{year}{day.month}月{day.day}日（{WEEKDAY_NAMES_ZH[day.weekday()]}）"


def format_slot(start: datetime, now: Optional[datetime] = None) -> str:
    """"12月5日（周六）14:30"."""
    return f"{format_day(start, now)}{_clock(start.time())}"


# -- the checks ---------------------------------------------------------------


def _check_exact(
    requested: RequestedTime,
    now: datetime,
    calendar: ServiceCalendar,
    is_free: Optional[IsFree],
    count: int,
    policy: BookingPolicy,
) -> BookingCheck:
    start = requested.start
    status = calendar.day_status(start.date())
    when = format_slot(start, now)

    def refuse(reason: Reason, lead: str) -> BookingCheck:
        alternatives = candidate_slots(requested, now, calendar, count, is_free, policy=policy)
        return BookingCheck(reason, _with_alternatives(lead, alternatives, now), None, tuple(alternatives), status)

    if start <= now:
        return refuse(Reason.IN_PAST, f"抱歉，{when}已经过去了，无法预约。")
    if start.date() > policy.last_bookable_day(now):
        return refuse(Reason.TOO_FAR, _too_far_lead(when, now, policy))
    if not status.is_working_day:
        return refuse(*_closed_day_lead(status, now))
    opens, closes = calendar.opening_hours(start.date())  # open: checked above
    if start < opens or start >= closes:
        return refuse(Reason.OUTSIDE_HOURS, f"抱歉，{when}不在人工服务时间内（{_hours_text(calendar)}）。")
    if start + policy.service > closes:
        return refuse(
            Reason.OUTSIDE_HOURS,
            f"抱歉，每次服务约需{policy.service_minutes}分钟，需在{_clock(calendar.closes)}前结束，"
            f"{_clock(start.time())}开始会超出服务时间。",
        )
    if (start - opens) % policy.slot:
        return refuse(Reason.NOT_ALIGNED, f"抱歉，预约时间需为{_grid_text(policy)}，{_clock(start.time())}无法预约。")
    if is_free is not None and not is_free(start):
        return refuse(Reason.FULLY_BOOKED, f"抱歉，{when}已经约满了。")
    return BookingCheck(Reason.OK, f"好的，{when}可以预约。", start, (), status)


def _check_period(
    requested: RequestedTime,
    now: datetime,
    calendar: ServiceCalendar,
    is_free: Optional[IsFree],
    count: int,
    policy: BookingPolicy,
) -> BookingCheck:
    start, end = requested.start, requested.end
    status = calendar.day_status(start.date())
    when = _format_period(start, end, now, calendar)

    def refuse(reason: Reason, lead: str) -> BookingCheck:
        alternatives = candidate_slots(requested, now, calendar, count, is_free, policy=policy)
        return BookingCheck(reason, _with_alternatives(lead, alternatives, now), None, tuple(alternatives), status)

    if end <= now:
        return refuse(Reason.IN_PAST, f"抱歉，{when}已经过去了，无法预约。")
    if start.date() > policy.last_bookable_day(now):
        return refuse(Reason.TOO_FAR, _too_far_lead(when, now, policy))
    days = _days_between(max(start, now), end, policy.last_bookable_day(now))
    statuses = [calendar.day_status(d) for d in days]
    if statuses and not any(s.is_working_day for s in statuses):
        return refuse(*_closed_day_lead(statuses[0], now))

    # Valid slots ignoring now, then after now: tells "outside hours" from "already past".
    valid_any_time = _take(_bookable_between(start, end, start - timedelta(microseconds=1), calendar, policy), 1)
    valid_from_now = list(_bookable_between(start, end, now, calendar, policy))
    if not valid_any_time:
        return refuse(Reason.OUTSIDE_HOURS, f"抱歉，{when}不在人工服务时间内（{_hours_text(calendar)}）。")
    if not valid_from_now:
        return refuse(Reason.IN_PAST, f"抱歉，{when}可预约的时间已经过去了。")
    free = _take((s for s in valid_from_now if is_free is None or is_free(s)), max(count, 1))
    if not free:
        return refuse(Reason.FULLY_BOOKED, f"抱歉，{when}的预约已经约满了。")
    single_day = start.date() == (end - timedelta(microseconds=1)).date()
    listed = _format_slots(free, now, omit_day=start.date() if single_day else None)
    message = f"好的，{when}可以预约的时间有：{listed}。请问您选择哪个时间？"
    return BookingCheck(Reason.NOT_EXACT, message, None, tuple(free), status)


# -- slot search --------------------------------------------------------------


def _bookable_on(day: date, now: datetime, calendar: ServiceCalendar, policy: BookingPolicy) -> List[datetime]:
    """Every slot start on ``day`` that passes the rules (capacity aside)."""
    if day < now.date() or day > policy.last_bookable_day(now):
        return []
    hours = calendar.opening_hours(day)
    if hours is None:
        return []
    opens, closes = hours
    slots = []
    start = opens
    while start + policy.service <= closes:
        if start > now:
            slots.append(start)
        start += policy.slot
    return slots


def _bookable_between(
    start: datetime, end: datetime, now: datetime, calendar: ServiceCalendar, policy: BookingPolicy
) -> Iterator[datetime]:
    """Bookable slot starts in ``[start, end)``, in time order."""
    for day in _days_between(start, end, policy.last_bookable_day(now)):
        for slot in _bookable_on(day, now, calendar, policy):
            if start <= slot < end:
                yield slot


def _nearest_first(
    anchor: datetime, now: datetime, calendar: ServiceCalendar, policy: BookingPolicy
) -> Iterator[datetime]:
    """Bookable slots by preference: same day by closeness, later days, then earlier days."""
    anchor_day = anchor.date()
    today, last_day = now.date(), policy.last_bookable_day(now)
    same_day = _bookable_on(anchor_day, now, calendar, policy)
    yield from sorted(same_day, key=lambda s: (abs(s - anchor), s))
    if anchor_day < last_day:
        day = max(anchor_day + timedelta(days=1), today)
        while day <= last_day:
            yield from _bookable_on(day, now, calendar, policy)
            day += timedelta(days=1)
    # Only reached for requests beyond the window (or when everything is full):
    # the latest slots before the request, latest first.
    if anchor_day > today:
        day = min(anchor_day - timedelta(days=1), last_day)
        while day >= today:
            yield from reversed(_bookable_on(day, now, calendar, policy))
            day -= timedelta(days=1)


def _days_between(start: datetime, end: datetime, last_day: date) -> Iterator[date]:
    """Dates touched by ``[start, end)``, capped at ``last_day``."""
    day = start.date()
    final = min((end - timedelta(microseconds=1)).date(), last_day)
    while day <= final:
        yield day
        day += timedelta(days=1)


def _take(slots: Iterable[datetime], count: int) -> List[datetime]:
    taken: List[datetime] = []
    if count <= 0:
        return taken
    for slot in slots:
        taken.append(slot)
        if len(taken) >= count:
            break
    return taken


def _as_requested(requested: Union[RequestedTime, datetime], calendar: ServiceCalendar) -> RequestedTime:
    if isinstance(requested, datetime):
        start = calendar.localize(requested)
        return RequestedTime(start=start, end=start, exact=True, text=format_slot(start))
    return RequestedTime(
        start=calendar.localize(requested.start),
        end=calendar.localize(requested.end),
        exact=requested.exact,
        text=requested.text,
    )


# -- wording ------------------------------------------------------------------


def _closed_day_lead(status: DayStatus, now: datetime) -> Tuple[Reason, str]:
    day = format_day(status.day, now)
    if status.kind is DayKind.HOLIDAY:
        return Reason.HOLIDAY, f"抱歉，{day}是{status.reason}，人工服务暂停。"
    return Reason.WEEKEND, f"抱歉，{day}不是工作日，人工服务暂停。"


def _too_far_lead(when: str, now: datetime, policy: BookingPolicy) -> str:
    last = format_day(policy.last_bookable_day(now), now)
    return f"抱歉，目前只能预约{policy.window_days}天内的时间（最晚到{last}），{when}暂时还不能预约。"


def _with_alternatives(lead: str, alternatives: Sequence[datetime], now: datetime) -> str:
    if alternatives:
        return f"{lead}您可以选择以下时间：{_format_slots(alternatives, now)}。"
    return f"{lead}近期暂无可预约的时间，请您稍后再试，感谢您的理解。"


def _format_slots(slots: Sequence[datetime], now: datetime, omit_day: Optional[date] = None) -> str:
    """"12月7日（周一）9:00、9:30；12月8日（周二）9:00" (grouped by day).

    ``omit_day``: the day the sentence already names, shown as times only.
    """
    days = []
    for day, group in groupby(slots, key=lambda s: s.date()):
        times = "、".join(_clock(s.time()) for s in group)
        days.append(times if day == omit_day else f"{format_day(day, now)}{times}")
    return "；".join(days)


def _format_period(start: datetime, end: datetime, now: datetime, calendar: ServiceCalendar) -> str:
    """"12月1日（周二）9:00-12:00", "12月3日（周四）" or "12月7日（周一）至12月13日（周日）".

    A part of a day is shown within service hours: JioNLP's "上午" runs from
    7:00, which would read as if we offered 7:00.
    """
    last = end - timedelta(microseconds=1)
    if start.date() != last.date():
        return f"{format_day(start, now)}至{format_day(last, now)}"
    if start.time() == time(0) and end - start >= timedelta(days=1):
        return format_day(start, now)
    hours = calendar.opening_hours(start.date())
    if hours is not None and start < hours[1] and end > hours[0]:
        start, end = max(start, hours[0]), min(end, hours[1])
    end_clock = "24:00" if end.date() != start.date() else _clock(end.time())
    return f"{format_day(start, now)}{_clock(start.time())}-{end_clock}"


def _hours_text(calendar: ServiceCalendar) -> str:
    return f"工作日{_clock(calendar.opens)}-{_clock(calendar.closes)}"


def _grid_text(policy: BookingPolicy) -> str:
    if policy.slot_minutes == 30:
        return "整点或半点（如14:00、14:30）"
    if policy.slot_minutes == 60:
        return "整点（如14:00）"
    return f"每{policy.slot_minutes}分钟一档"


def _clock(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"
