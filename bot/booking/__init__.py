"""Appointment booking rules (handbook 5.4), free of any database.

- ``timeparse``: what time a customer asked for ("明天下午三点", "后天上午").
- ``calendar``: when the human service is open (working days 9:00-22:00,
  statutory holidays closed, make-up working days open).
- ``rules``: whether a requested time can be booked, and which slots to offer
  instead; capacity stays with the caller through an ``is_free`` callable.

Importing this package does no I/O and does not import JioNLP (about 0.2-0.35 s);
the parser imports it on first use.
"""
from __future__ import annotations

from bot.booking.calendar import DayKind, DayStatus, ServiceCalendar, get_calendar
from bot.booking.rules import (
    BookingCheck,
    BookingPolicy,
    Reason,
    candidate_slots,
    check_request,
    format_day,
    format_slot,
)
from bot.booking.timeparse import RequestedTime, parse_requested_time

__all__ = [
    "BookingCheck",
    "BookingPolicy",
    "DayKind",
    "DayStatus",
    "Reason",
    "RequestedTime",
    "ServiceCalendar",
    "candidate_slots",
    "check_request",
    "format_day",
    "format_slot",
    "get_calendar",
    "parse_requested_time",
]
