"""When the human service is open: working days 9:00-22:00, holidays closed.

Handbook 5.4: "服务时间应覆盖客户日常使用需求，一般为工作日9:00-22:00，节假日除外".
China's working days are not simply Monday-Friday: the State Council moves
days around every year (statutory holidays on weekdays, make-up working days
"调休" on weekends). The ``chinesecalendar`` package carries the published
schedules; for years it does not know yet (it raises NotImplementedError) we
read the operator-edited ``config/holidays.yml`` and otherwise fall back to
the weekday rule, logging a WARNING once per year so the gap gets noticed.

Nothing here may crash on a date: the booking dialogue must always be able to
answer, so every failure degrades to the weekday rule and is logged.
"""
from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union
from zoneinfo import ZoneInfo

import chinese_calendar

logger = logging.getLogger(__name__)

DEFAULT_OPENS = time(9, 0)
DEFAULT_CLOSES = time(22, 0)
DEFAULT_SLOT_STEP = timedelta(minutes=30)
# How far iter_slot_starts looks for an open day before giving up; a year is
# more than any real run of closed days, and bounds a broken holiday file.
MAX_SEARCH_DAYS = 366
# A holiday range longer than this in the operator file is surely a typo
# (the longest real break, Spring Festival or National Day, is 8-9 days).
MAX_HOLIDAY_RANGE_DAYS = 31

# chinesecalendar names holidays in English; customers read Chinese.
HOLIDAY_NAMES_ZH: Mapping[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

WEEKDAY_NAMES_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class DayKind(str, enum.Enum):
    WORKDAY = "workday"
    MAKEUP_WORKDAY = "makeup_workday"  # 调休: a weekend day that is a working day
    HOLIDAY = "holiday"  # statutory holiday (incl. weekends inside the break)
    WEEKEND = "weekend"


class DaySource(str, enum.Enum):
    OFFICIAL = "chinese_calendar"  # the State Council's published schedule
    HOLIDAY_FILE = "holiday_file"  # the operator's config/holidays.yml
    WEEKDAY_RULE = "weekday_rule"  # nothing known: Monday-Friday open


@dataclass(frozen=True)
class DayStatus:
    """One day's status and the customer-facing reason, e.g. "国庆节假期"."""

    day: date
    kind: DayKind
    reason: str
    source: DaySource
    holiday_name: Optional[str] = None  # "国庆节" for holidays and their make-up days

    @property
    def is_working_day(self) -> bool:
        return self.kind in (DayKind.WORKDAY, DayKind.MAKEUP_WORKDAY)


@dataclass(frozen=True)
class HolidayOverrides:
    """The operator file's content: dates off and make-up working days."""

    holidays: Mapping[date, str]
    workdays: Mapping[date, str]

    @classmethod
    def empty(cls) -> "HolidayOverrides":
        return cls(holidays={}, workdays={})


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _default_timezone() -> str:
    from bot.settings import get_settings

    return get_settings().timezone


def _default_holiday_file() -> Path:
    from bot.settings import get_settings

    return get_settings().holiday_file


class ServiceCalendar:
    """Working days and opening hours of the human service.

    Dates are customers' local dates (the configured timezone, Asia/Shanghai);
    datetimes passed in are converted to it, and naive ones are taken as local
    wall-clock time. The holiday file is read on first need and cached; call
    ``reload()`` after the operator edits it.
    """

    def __init__(
        self,
        holiday_file: Union[str, Path, None] = None,
        *,
        opens: time = DEFAULT_OPENS,
        closes: time = DEFAULT_CLOSES,
        timezone: Union[str, tzinfo, None] = None,
    ) -> None:
        if not opens < closes:
            raise ValueError(f"opening time {opens} must be before closing time {closes}")
        self.holiday_file = Path(holiday_file) if holiday_file else _default_holiday_file()
        self.opens = opens
        self.closes = closes
        timezone = timezone or _default_timezone()
        self.tz: tzinfo = zone(timezone) if isinstance(timezone, str) else timezone
        self._lock = threading.Lock()
        self._overrides: Optional[HolidayOverrides] = None
        self._warned_years: set = set()

    # -- days ---------------------------------------------------------------

    def day_status(self, day: Union[date, datetime]) -> DayStatus:
        """Whether ``day`` is a working day, and why, in words for customers."""
        day = self._as_local_date(day)
        official = self._official_status(day)
        if official is not None:
            return official
        self._warn_fallback_once(day.year)
        return self._fallback_status(day)

    def is_working_day(self, day: Union[date, datetime]) -> bool:
        return self.day_status(day).is_working_day

    # -- hours --------------------------------------------------------------

    def opening_hours(self, day: Union[date, datetime]) -> Optional[Tuple[datetime, datetime]]:
        """(opens, closes) as aware datetimes, or None on a closed day."""
        day = self._as_local_date(day)
        if not self.is_working_day(day):
            return None
        return (
            datetime.combine(day, self.opens, tzinfo=self.tz),
            datetime.combine(day, self.closes, tzinfo=self.tz),
        )

    def is_open(self, moment: datetime) -> bool:
        """Whether the human service is staffed at ``moment`` (closing time excluded)."""
        moment = self.localize(moment)
        hours = self.opening_hours(moment.date())
        return hours is not None and hours[0] <= moment < hours[1]

    def iter_slot_starts(
        self,
        start_at: datetime,
        step: timedelta = DEFAULT_SLOT_STEP,
        duration: timedelta = timedelta(0),
        max_days: int = MAX_SEARCH_DAYS,
    ) -> Iterator[datetime]:
        """Slot starts at or after ``start_at``, in time order, on open days.

        Slots are aligned to the opening time (9:00, 9:30, ... for a 30-minute
        step) and a slot is only offered if ``duration`` ends by closing time.
        Stops after ``max_days`` days, or at the end of the calendar (year 9999).
        """
        if step <= timedelta(0):
            raise ValueError("step must be positive")
        start_at = self.localize(start_at)
        day = start_at.date()
        for _ in range(max_days):
            try:
                yield from self._slot_starts_on(day, start_at, step, duration)
                day += timedelta(days=1)
            except OverflowError:  # past 9999-12-31: the calendar ends here
                return

    def _slot_starts_on(
        self, day: date, start_at: datetime, step: timedelta, duration: timedelta
    ) -> Iterator[datetime]:
        hours = self.opening_hours(day)
        if hours is None:
            return
        opens, closes = hours
        slot = opens
        if start_at > opens:
            slot = opens + -((opens - start_at) // step) * step  # ceiling to the grid
        while slot < closes and slot + duration <= closes:
            yield slot
            slot += step

    def next_open_times(
        self,
        after: datetime,
        step: timedelta = DEFAULT_SLOT_STEP,
        limit: int = 3,
        duration: timedelta = timedelta(0),
    ) -> List[datetime]:
        """The first ``limit`` slot starts at or after ``after`` (see iter_slot_starts)."""
        found: List[datetime] = []
        if limit <= 0:
            return found
        for slot in self.iter_slot_starts(after, step=step, duration=duration):
            found.append(slot)
            if len(found) >= limit:
                break
        return found

    # -- time zone ----------------------------------------------------------

    def localize(self, moment: datetime) -> datetime:
        """``moment`` in the calendar's timezone; naive means local wall-clock time."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.tz)
        try:
            return moment.astimezone(self.tz)
        except OverflowError:  # only at datetime.min/max; keep the wall clock
            return moment.replace(tzinfo=self.tz)

    def _as_local_date(self, day: Union[date, datetime]) -> date:
        return self.localize(day).date() if isinstance(day, datetime) else day

    # -- sources ------------------------------------------------------------

    @staticmethod
    def _official_status(day: date) -> Optional[DayStatus]:
        """The State Council's schedule via chinesecalendar, None for unknown years."""
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:  # year not published / not in this release
            return None
        except Exception:  # never let a library bug stop the dialogue
            logger.exception("chinesecalendar failed for %s; using the fallback", day)
            return None
        name_zh = HOLIDAY_NAMES_ZH.get(name, name) if name else None
        weekend = day.weekday() >= 5
        if on_holiday and name_zh:
            return DayStatus(day, DayKind.HOLIDAY, f"{name_zh}假期", DaySource.OFFICIAL, name_zh)
        if on_holiday:
            return DayStatus(day, DayKind.WEEKEND, "周末", DaySource.OFFICIAL)
        if weekend:
            return DayStatus(day, DayKind.MAKEUP_WORKDAY, "调休工作日", DaySource.OFFICIAL, name_zh)
        return DayStatus(day, DayKind.WORKDAY, "工作日", DaySource.OFFICIAL)

    def _fallback_status(self, day: date) -> DayStatus:
        overrides = self.overrides()
        if day in overrides.holidays:
            name = overrides.holidays[day]
            return DayStatus(day, DayKind.HOLIDAY, f"{name}假期", DaySource.HOLIDAY_FILE, name)
        if day in overrides.workdays:
            name = overrides.workdays[day]
            kind = DayKind.MAKEUP_WORKDAY if day.weekday() >= 5 else DayKind.WORKDAY
            reason = "调休工作日" if kind is DayKind.MAKEUP_WORKDAY else "工作日"
            return DayStatus(day, kind, reason, DaySource.HOLIDAY_FILE, name)
        if day.weekday() >= 5:
            return DayStatus(day, DayKind.WEEKEND, "周末", DaySource.WEEKDAY_RULE)
        return DayStatus(day, DayKind.WORKDAY, "工作日", DaySource.WEEKDAY_RULE)

    def overrides(self) -> HolidayOverrides:
        """The operator file, read once (lazily) and cached."""
        with self._lock:
            if self._overrides is None:
                self._overrides = load_holiday_file(self.holiday_file)
            return self._overrides

    def reload(self) -> None:
        """Forget the cached holiday file (and warnings) after an operator edit."""
        with self._lock:
            self._overrides = None
            self._warned_years = set()

    def _warn_fallback_once(self, year: int) -> None:
        with self._lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        logger.warning(
            "chinesecalendar %s has no holiday schedule for %d: using %s (operator "
            "estimates) and the Monday-Friday rule. Upgrade chinesecalendar or update "
            "the file once the State Council publishes the %d schedule.",
            getattr(chinese_calendar, "__version__", "?"),
            year,
            self.holiday_file,
            year,
        )


def load_holiday_file(path: Union[str, Path]) -> HolidayOverrides:
    """Read the operator's holiday file; errors are logged, never raised.

    A missing or unreadable file gives no overrides (the weekday rule applies);
    a malformed entry is skipped and the rest of the file is still used.
    """
    import yaml

    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except FileNotFoundError:
        logger.error("holiday file %s does not exist: using the weekday rule", path)
        return HolidayOverrides.empty()
    except Exception:
        logger.exception("cannot read holiday file %s: using the weekday rule", path)
        return HolidayOverrides.empty()
    if content is None:
        return HolidayOverrides.empty()
    if not isinstance(content, dict):
        logger.error("holiday file %s must map years to blocks: using the weekday rule", path)
        return HolidayOverrides.empty()

    holidays: Dict[date, str] = {}
    workdays: Dict[date, str] = {}
    for year, block in content.items():
        where = f"{path}, year {year}"
        if not isinstance(block, dict):
            logger.error("%s: expected 'holidays:' and 'workdays:' lists; skipped", where)
            continue
        for entry in _entries(block, "holidays", where):
            try:
                name = _entry_name(entry)
                first = _as_date(entry["start"])
                last = _as_date(entry.get("end", first))
                if last < first or (last - first).days > MAX_HOLIDAY_RANGE_DAYS:
                    raise ValueError(f"implausible range {first}..{last}")
            except Exception as error:
                logger.error("%s: bad holiday entry %r (%s); skipped", where, entry, error)
                continue
            for offset in range((last - first).days + 1):
                holidays[first + timedelta(days=offset)] = name
        for entry in _entries(block, "workdays", where):
            try:
                workdays[_as_date(entry["date"])] = _entry_name(entry)
            except Exception as error:
                logger.error("%s: bad workday entry %r (%s); skipped", where, entry, error)

    for clash in sorted(set(holidays) & set(workdays)):
        # Closed is the safer mistake: nobody is sent to an unstaffed service.
        logger.error("%s: %s is both a holiday and a workday; treating it as a holiday", path, clash)
        del workdays[clash]
    return HolidayOverrides(holidays=holidays, workdays=workdays)


def _entries(block: dict, key: str, where: str) -> List[dict]:
    entries = block.get(key) or []
    if not isinstance(entries, list):
        logger.error("%s: '%s' must be a list; skipped", where, key)
        return []
    return entries


def _entry_name(entry: object) -> str:
    if not isinstance(entry, dict):
        raise ValueError("entry must be a mapping")
    name = str(entry.get("name") or "节假日").strip()
    return name or "节假日"


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError(f"not a date: {value!r}")


@lru_cache(maxsize=None)
def get_calendar() -> ServiceCalendar:
    """The process-wide calendar from settings (one file read, one warning per year)."""
    return ServiceCalendar()
