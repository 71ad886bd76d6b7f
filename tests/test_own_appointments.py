"""Finding the customer's own booking for a change or a cancellation, on
SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from actions.own_appointments import code_in, find
from bot.db.repositories import AppointmentRepository, AppointmentSlotRepository
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    NOW,
    World,
    database_url,
    postgres_database_url,
    session,
    world,
)

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("取消预约 YY3K7QPM", "YY3K7QPM"),
        ("yy 3k7-qpm", "YY3K7QPM"),
        ("我的预约号是ＹＹ３Ｋ７ＱＰＭ", "YY3K7QPM"),
        ("取消预约", None),
        ("YY3K7", None),  # too short
        ("", None),
    ],
)
def test_code_in(text, expected):
    assert code_in(text) == expected


def _book(session, world: World, starts_in: timedelta, conversation: str = "alice"):
    slot = AppointmentSlotRepository(session).get_or_create(world.branch, NOW + starts_in)
    appointment = AppointmentRepository(session).book(
        slot=slot, service_type=world.account_opening, contact_phone="13812345678",
        conversation_id=conversation, channel="rest", at=NOW - 24 * HOUR,
    )
    session.commit()
    return appointment


def test_by_code(session, world):
    mine = _book(session, world, 2 * HOUR)
    _book(session, world, 3 * HOUR)
    code = mine.code
    typed = f"取消 {code[:4].lower()}-{code[4:]}"
    assert find(session, typed, "alice", NOW) == (mine, [])


def test_the_code_is_the_receipt_whatever_the_conversation(session, world):
    # The code alone identifies the booking, even from another conversation.
    booked_elsewhere = _book(session, world, 2 * HOUR, conversation="bob")
    assert find(session, f"取消预约 {booked_elsewhere.code}", "alice", NOW) == (booked_elsewhere, [])


def test_an_unknown_code_does_not_fall_back_to_the_conversation(session, world):
    _book(session, world, 2 * HOUR)
    assert find(session, "取消预约 YYZZZZZZ", "alice", NOW) == (None, [])


def test_the_only_booking_of_the_conversation(session, world):
    mine = _book(session, world, 2 * HOUR)
    _book(session, world, 3 * HOUR, conversation="bob")
    assert find(session, "我要取消预约", "alice", NOW) == (mine, [])


def test_several_bookings_are_candidates_soonest_first(session, world):
    later = _book(session, world, 5 * HOUR)
    sooner = _book(session, world, 2 * HOUR)
    assert find(session, "改一下预约时间", "alice", NOW) == (None, [sooner, later])


def test_no_booking(session, world):
    assert find(session, "我要取消预约", "alice", NOW) == (None, [])


def test_cancelled_or_past_bookings_are_not_found(session, world):
    cancelled = _book(session, world, 2 * HOUR)
    AppointmentRepository(session).cancel(cancelled, at=NOW)
    session.commit()
    past = _book(session, world, -HOUR)

    for appointment in (cancelled, past):
        assert find(session, f"取消预约 {appointment.code}", "alice", NOW) == (None, [])
    assert find(session, "我要取消预约", "alice", NOW) == (None, [])


def test_a_booking_starting_now_is_past(session, world):
    starting = _book(session, world, timedelta(0))
    assert find(session, f"取消预约 {starting.code}", "alice", NOW) == (None, [])
    assert find(session, f"取消预约 {starting.code}", "alice", NOW - HOUR) == (starting, [])
