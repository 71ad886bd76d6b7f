"""Identity check before an application's status is shown, on SQLite and
PostgreSQL: three failures in 15 minutes lock, per conversation and per
application, and nothing reveals whether a number exists."""
from __future__ import annotations

from datetime import timedelta

from bot.db.models import NotificationChannel
from bot.db.repositories import ApplicationRepository, VerificationAttemptRepository
from bot.status.verification import Verification, is_locked, verify
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    NOW,
    World,
    database_url,
    postgres_database_url,
    session,
    world,
)

RIGHT = "5678"  # world.customer's phone is 13812345678
WRONG = "0000"
MISSING = "SQ209901010001"  # no such application
MINUTE = timedelta(minutes=1)


def _submit(session, world: World) -> str:
    application = ApplicationRepository(session).submit(
        world.customer, world.loan, at=NOW - timedelta(days=1),
        notification_channel=NotificationChannel.SMS,
    )
    session.commit()
    return application.number


def _verify(session, conversation: str, number: str, digits: str, now=NOW) -> Verification:
    return verify(
        session, conversation_id=conversation, application_number=number, phone_last4=digits, now=now
    )


def _failures(session, **key) -> int:
    return VerificationAttemptRepository(session).count_recent_failures(
        since=NOW - timedelta(hours=1), **key
    )


def test_the_right_digits_verify(session, world):
    number = _submit(session, world)
    assert _verify(session, "alice", number, RIGHT) == Verification(
        verified=True, locked=False, attempts_left=3
    )
    assert _failures(session, conversation_id="alice") == 0


def test_the_number_may_be_typed_loosely(session, world):
    number = _submit(session, world)
    typed = f"{number[:2].lower()} {number[2:6]}-{number[6:]}"
    assert _verify(session, "alice", typed, RIGHT).verified


def test_wrong_digits_count_down_then_lock(session, world):
    number = _submit(session, world)
    results = [_verify(session, "alice", number, WRONG, NOW + i * MINUTE) for i in range(3)]
    assert results == [
        Verification(verified=False, locked=False, attempts_left=2),
        Verification(verified=False, locked=False, attempts_left=1),
        Verification(verified=False, locked=True, attempts_left=0),
    ]
    # Locked: even the right digits are refused, without being looked at.
    assert _verify(session, "alice", number, RIGHT, NOW + 3 * MINUTE) == Verification(
        verified=False, locked=True, attempts_left=0
    )
    assert is_locked(session, conversation_id="alice", application_number=number, now=NOW + 3 * MINUTE)
    # A refused attempt while locked is not recorded.
    assert _failures(session, conversation_id="alice") == 3


def test_a_missing_number_fails_exactly_like_a_wrong_phone(session, world):
    number = _submit(session, world)
    for expected_left in (2, 1, 0):
        wrong_phone = _verify(session, "alice", number, WRONG)
        missing = _verify(session, "bob", MISSING, RIGHT)
        assert type(missing) is type(wrong_phone)
        assert missing == wrong_phone
        assert wrong_phone.attempts_left == expected_left
    assert _failures(session, application_number=MISSING) == 3
    assert _failures(session, conversation_id="bob") == 3
    assert _verify(session, "bob", MISSING, RIGHT) == _verify(session, "alice", number, RIGHT)


def test_one_conversation_cannot_try_many_numbers(session, world):
    number = _submit(session, world)
    for other in ("SQ209901010001", "SQ209901010002", "SQ209901010003"):
        _verify(session, "alice", other, RIGHT)

    assert _verify(session, "alice", number, RIGHT) == Verification(
        verified=False, locked=True, attempts_left=0
    )
    # The application itself is not locked for other conversations.
    assert _verify(session, "bob", number, RIGHT).verified


def test_many_conversations_cannot_try_one_number(session, world):
    number = _submit(session, world)
    for conversation in ("alice", "bob", "carol"):
        assert not _verify(session, conversation, number, WRONG).verified

    assert _verify(session, "dave", number, RIGHT) == Verification(
        verified=False, locked=True, attempts_left=0
    )
    # Other applications stay open to dave.
    second = _submit(session, world)
    assert _verify(session, "dave", second, RIGHT).verified


def test_the_lock_lifts_after_15_minutes(session, world):
    number = _submit(session, world)
    for _ in range(3):
        _verify(session, "alice", number, WRONG, NOW)

    # Still locked at 14 minutes; knocking while locked does not extend it.
    assert _verify(session, "alice", number, RIGHT, NOW + 14 * MINUTE).locked
    # The window includes its start: a failure exactly 15 minutes ago still counts.
    assert is_locked(session, conversation_id="alice", application_number=number, now=NOW + 15 * MINUTE)

    later = NOW + 15 * MINUTE + timedelta(seconds=1)
    assert not is_locked(session, conversation_id="alice", application_number=number, now=later)
    assert _verify(session, "alice", number, RIGHT, later) == Verification(
        verified=True, locked=False, attempts_left=3
    )


def test_a_success_does_not_reset_earlier_failures(session, world):
    """Only failures are counted, and a success deletes none of them: two
    failures, a success, then one more failure within 15 minutes lock. (The
    success itself reports attempts_left=3, the full allowance, not what is
    actually left.)"""
    number = _submit(session, world)
    _verify(session, "alice", number, WRONG, NOW)
    _verify(session, "alice", number, WRONG, NOW + MINUTE)
    assert _verify(session, "alice", number, RIGHT, NOW + 2 * MINUTE) == Verification(
        verified=True, locked=False, attempts_left=3
    )

    assert _verify(session, "alice", number, WRONG, NOW + 3 * MINUTE) == Verification(
        verified=False, locked=True, attempts_left=0
    )
    assert _verify(session, "alice", number, RIGHT, NOW + 4 * MINUTE).locked
