"""The customer's current time: every "明天下午三点" is read relative to it.

One function so tests can replace it (monkeypatch ``bot.clock.now``). With
``BOT_DEMO_CLOCK_START`` set (demos and end-to-end tests only) the clock
starts at that local time at ``BOT_DEMO_CLOCK_ANCHOR`` (a Unix time the
launcher shares with all its processes; else when the process first asks)
and runs on from there.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Optional
from zoneinfo import ZoneInfo

from bot.settings import get_settings


def now() -> datetime:
    """Aware current time in the customers' timezone (Asia/Shanghai)."""
    zone = ZoneInfo(get_settings().timezone)
    start = _demo_start()
    if start is None:
        return datetime.now(zone)
    moment, anchor = start
    return moment + timedelta(seconds=time.time() - anchor)


@lru_cache(maxsize=1)
def _demo_start() -> Optional[tuple]:
    configured = get_settings().demo_clock_start
    if configured is None:
        return None
    zone = ZoneInfo(get_settings().timezone)
    moment = configured if configured.tzinfo else configured.replace(tzinfo=zone)
    anchor = get_settings().demo_clock_anchor
    return moment.astimezone(zone), time.time() if anchor is None else anchor
