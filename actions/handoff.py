"""Handing a conversation to a person (首问负责制, handbook 2.2 and 4.3).

``hand_over`` opens the customer's case (or finds the one already open),
tells the customer what happens next and pauses the conversation: from then
on Rasa stays silent and the handoff relay carries the customer's messages to
the console, until an agent closes the case or hands the customer back.

Outside human service hours (working days 9:00-22:00, the statutory
calendar) nothing is opened at once: the customer hears when people are
back and chooses between leaving a message for a call back (a case for the
next working period), booking an appointment, or going on with the bot.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.conversation import channel_of, latest_intent
from actions.reply import reply
from bot import clock
from bot.booking.calendar import ServiceCalendar, get_calendar
from bot.booking.rules import format_slot
from bot.db.engine import unit_of_work
from bot.db.repositories import ApplicationRepository
from bot.handoff.models import Case, CaseStatus, HandoffReason
from bot.handoff.repositories import CaseRepository

REASON_SLOT = "handoff_reason"
ASKING_FOR_A_PERSON = frozenset({"request_human", "affirm", "deny", "leave_message"})
# What the summary keeps of the conversation so far.
RECENT_TURNS = 3
ANSWER_LENGTH = 200
# Slots an agent needs to see (filled ones only); the rest are internal.
SUMMARY_SLOTS = (
    "application_number", "verified_application", "service_type", "branch",
    "appointment_time", "booking_code",
)


def reason_of(tracker: Tracker) -> HandoffReason:
    """Why the customer is handed over: for a message left off hours, the
    reason kept when the choice was offered; after the bot's own offer
    following two misses, a fallback; else the customer asked."""
    kept = tracker.get_slot(REASON_SLOT)
    if latest_intent(tracker) == "leave_message" and kept in {r.value for r in HandoffReason}:
        return HandoffReason(kept)
    if _action_before_latest_message(tracker) == "utter_offer_human":
        return HandoffReason.FALLBACK
    return HandoffReason.REQUEST_HUMAN


def hand_over(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: HandoffReason,
    *,
    off_hours_confirmed: bool = False,
) -> List[Dict[str, Any]]:
    """Open (or rejoin) the customer's case and pause the conversation; off
    hours, first offer the choices unless the customer already chose to
    leave a message."""
    now, calendar = clock.now(), get_calendar()
    if not calendar.is_open(now) and not off_hours_confirmed and not _has_active_case(tracker):
        reply(dispatcher, tracker, _off_hours_offer(now, calendar, reason), _off_hours_buttons())
        return [SlotSet(REASON_SLOT, reason.value)]
    with unit_of_work() as session:
        repo = CaseRepository(session)
        case = repo.open_case(
            tracker.sender_id,
            channel_of(tracker),
            reason,
            summary_of(tracker, reason),
            now,
            calendar,
            customer=_verified_customer(session, tracker),
        )
        text = _what_happens_next(repo, case, now, calendar)
    reply(dispatcher, tracker, text)
    return [SlotSet(REASON_SLOT, None), ConversationPaused()]


def summary_of(tracker: Tracker, reason: HandoffReason) -> Dict[str, Any]:
    """What the agent reads first: why, what the customer asked, what the bot
    already answered, the filled slots and whether identity was verified."""
    asked = [
        (event["text"], ((event.get("parse_data") or {}).get("intent") or {}).get("name"))
        for event in tracker.events
        if event.get("event") == "user" and (event.get("text") or "").strip()
        and not event["text"].startswith("/")
    ]
    # The question is what the customer wanted, not the words that asked for a person.
    questions = [text for text, intent in asked if intent not in ASKING_FOR_A_PERSON]
    answers = [
        (event.get("text") or "")[:ANSWER_LENGTH] for event in tracker.events
        if event.get("event") == "bot" and (event.get("text") or "").strip()
    ]
    slots = {
        name: tracker.get_slot(name) for name in SUMMARY_SLOTS
        if tracker.get_slot(name) not in (None, "", [])
    }
    intents = [intent for _, intent in asked if intent and intent not in ASKING_FOR_A_PERSON]
    return {
        "reason": reason.value,
        "intent": intents[-1] if intents else latest_intent(tracker),
        "question": questions[-1] if questions else (asked[-1][0] if asked else ""),
        "recent_questions": [text for text, _ in asked][-RECENT_TURNS:],
        "answers": answers[-RECENT_TURNS:],
        "slots": slots,
        "verified": bool(tracker.get_slot("verified_application")),
    }


def _has_active_case(tracker: Tracker) -> bool:
    with unit_of_work() as session:
        return CaseRepository(session).active_for_conversation(tracker.sender_id) is not None


def _verified_customer(session, tracker: Tracker):
    """The customer this conversation proved to be (via an application), if any."""
    number = tracker.get_slot("verified_application")
    if not number:
        return None
    application = ApplicationRepository(session).by_number(number)
    return application.customer if application is not None else None


def _what_happens_next(
    repo: CaseRepository, case: Case, now: datetime, calendar: ServiceCalendar
) -> str:
    if case.status is CaseStatus.OPEN:
        return texts.HANDOFF_REJOINED.format(number=case.number, agent=case.owner.display_name)
    if case.off_hours:
        opens = _next_opening(now, calendar)
        return texts.HANDOFF_MESSAGE_LEFT.format(number=case.number, opens=opens)
    lead = texts.HANDOFF_URGENT if case.reason is HandoffReason.HIGH_RISK else texts.HANDOFF_STARTED
    position = repo.queue_position(case)
    typical = repo.typical_wait(now)
    if typical is None:
        wait = texts.HANDOFF_WAIT_STANDARD
    else:
        minutes = max(1, round(typical / timedelta(minutes=1) * position))
        wait = texts.HANDOFF_WAIT_ESTIMATE.format(minutes=minutes)
    return lead.format(number=case.number) + texts.HANDOFF_QUEUE.format(
        ahead=position - 1, wait=wait
    )


def _next_opening(now: datetime, calendar: ServiceCalendar) -> str:
    starts = calendar.next_open_times(now, limit=1)
    return format_slot(starts[0], now) if starts else texts.HANDOFF_NEXT_WORKING_DAY


def _off_hours_offer(now: datetime, calendar: ServiceCalendar, reason: HandoffReason) -> str:
    text = texts.HANDOFF_OFF_HOURS.format(opens=_next_opening(now, calendar))
    if reason is HandoffReason.HIGH_RISK:
        text = texts.HANDOFF_OFF_HOURS_URGENT + text
    return text


def _off_hours_buttons() -> List[dict]:
    return [
        {"title": texts.LEAVE_MESSAGE, "payload": "/leave_message"},
        {"title": texts.TASKS["book_appointment"], "payload": "/book_appointment"},
        {"title": texts.CONTINUE_WITH_BOT, "payload": "/deny"},
    ]


def _action_before_latest_message(tracker: Tracker) -> Optional[str]:
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_latest:
                return None
            seen_latest = True
        elif seen_latest and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None
