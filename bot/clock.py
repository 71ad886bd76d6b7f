"""The customer's current time: every "明天下午三点" is read relative to it.

One function so tests can replace it (monkeypatch ``bot.clock.now``).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.settings import get_settings


def now() -> datetime:
    """Aware current time in the customers' timezone (Asia/Shanghai)."""
    return datetime.now(ZoneInfo(get_settings().timezone))
