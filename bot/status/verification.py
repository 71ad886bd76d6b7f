"""Identity check before an application's status is shown (handbook 4.4: the
customer's information is protected).

The customer proves who they are with the last 4 digits of the phone number
registered on the application. Nothing about an application, not even whether
it exists, is revealed before that: a wrong number and a wrong phone fail the
same way. Three failures within 15 minutes lock further attempts, counted both
per conversation (one chat cannot try many numbers) and per application (many
chats cannot try one number).
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.db.repositories import ApplicationRepository, VerificationAttemptRepository

MAX_FAILURES = 3
LOCK_PERIOD = timedelta(minutes=15)


@dataclass(frozen=True)
class Verification:
    verified: bool
    locked: bool
    attempts_left: int


def is_locked(session: Session, *, conversation_id: str, application_number: str, now: datetime) -> bool:
    return _failures(session, conversation_id, application_number, now) >= MAX_FAILURES


def verify(
    session: Session,
    *,
    conversation_id: str,
    application_number: str,
    phone_last4: str,
    now: datetime,
) -> Verification:
    """Check the digits, record the attempt, and say whether the caller may see
    the application. A locked pair is refused without looking at the digits."""
    if is_locked(session, conversation_id=conversation_id, application_number=application_number, now=now):
        return Verification(verified=False, locked=True, attempts_left=0)
    application = ApplicationRepository(session).by_number(application_number)
    expected = application.customer.phone[-4:] if application is not None else "----"
    # Constant-time comparison, and the same work whether or not it exists.
    verified = hmac.compare_digest(expected.encode(), phone_last4.encode()) and application is not None
    VerificationAttemptRepository(session).record(
        conversation_id=conversation_id,
        application_number=application_number,
        succeeded=verified,
        at=now,
    )
    if verified:
        return Verification(verified=True, locked=False, attempts_left=MAX_FAILURES)
    left = MAX_FAILURES - _failures(session, conversation_id, application_number, now)
    return Verification(verified=False, locked=left <= 0, attempts_left=max(left, 0))


def _failures(session: Session, conversation_id: str, application_number: str, now: datetime) -> int:
    attempts = VerificationAttemptRepository(session)
    since = now - LOCK_PERIOD
    return max(
        attempts.count_recent_failures(since=since, conversation_id=conversation_id),
        attempts.count_recent_failures(since=since, application_number=application_number),
    )
