"""The appointment actions against a real database, on SQLite and PostgreSQL:
the rasa-sdk classes are called directly (no servers) with a tracker as Rasa
would send it, and the events and messages they return are compared in full.

The database holds the demo data (``bot.db.seed``) seeded at FIXED; the
actions use it through ``DATABASE_URL`` and a clock stopped at FIXED."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, List, Optional

import chinese_calendar
import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, ReminderCancelled, SlotSet
from sqlalchemy import select

from action_fixtures import (  # noqa: F401  (fixtures are found by name)
    FIXED,
    SHANGHAI,
    actions_db,
    run,
    tracker_builder,
    unreachable_db,
)
from actions import action_book_appointment, texts
from actions.action_appointment_reminder import ActionAppointmentReminder
from actions.action_book_appointment import ActionBookAppointment
from actions.action_cancel_appointment import ActionCancelAppointment
from actions.action_start_appointment_change import ActionStartAppointmentChange
from actions.validate_appointment_form import ValidateAppointmentForm
from bot.db.engine import unit_of_work
from bot.db.models import Appointment, AppointmentSlot, AppointmentStatus
from bot.db.repositories import (
    AppointmentRepository,
    AppointmentSlotRepository,
    BranchRepository,
    ServiceTypeRepository,
)
from bot.db.seed import seed
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    database_url,
    postgres_database_url,
    session,
)

# FIXED (action_fixtures) is Monday 30 November 2026, 9:30; the days below are checked against chinese_calendar.
TOMORROW_3PM = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI)  # Tuesday
WEDNESDAY_10AM = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
SATURDAY = datetime(2026, 12, 5, tzinfo=SHANGHAI)  # closed, not a make-up working day
NEXT_MONDAY = datetime(2026, 12, 7, tzinfo=SHANGHAI)
FORM = "appointment_form"

# From the demo data: 滨江支行 has 2 places per slot, 空港新区支行 1; the seed
# fills 云溪市分行营业部 at 10:00 on the next weekday (Tuesday 1 December).
BINJIANG = "yunxi-binjiang"
BINJIANG_PLACE = "滨江支行（云溪市滨江大道166号）"
KONGGANG = "yunxi-konggang"
MAIN = "yunxi-main"
CREDIT_CARD = "credit_card"
PHONE = "13812345678"
SENDER = "alice"

FILLED = dict(
    service_type=CREDIT_CARD, branch=BINJIANG, appointment_time=TOMORROW_3PM.isoformat(), contact_phone=PHONE
)
CLEARED = [
    SlotSet("service_type", None),
    SlotSet("branch", None),
    SlotSet("appointment_time", None),
    SlotSet("contact_phone", None),
    SlotSet("appointment_confirmed", None),
    SlotSet("booking_code", None),
]
ASK_AGAIN = [
    SlotSet("appointment_time", None),
    SlotSet("appointment_confirmed", None),
    FollowupAction("appointment_form"),
]


# --- wiring ---------------------------------------------------------------------


@pytest.fixture
def url(session, actions_db) -> str:
    """The seeded database's URL."""
    assert seed(session, now=FIXED)
    session.commit()
    return actions_db


tracker = tracker_builder(intent="book_appointment", form=FORM, sender=SENDER)


def after_form(text: str = "确认预约", **slots: Any) -> Tracker:
    """The tracker action_book_appointment gets: the form done, its slots filled."""
    return tracker(text, active_loop=None, **slots)


def said(text: str, buttons: Optional[List[str]] = None) -> dict:
    """A message; ``buttons`` given as titles whose payload is the title too."""
    return {"text": text, "buttons": [{"title": b, "payload": b} for b in buttons or []]}


def reminder(code: str, trigger_utc: str) -> dict:
    return {
        "event": "reminder",
        "timestamp": None,
        "intent": "EXTERNAL_appointment_reminder",
        "entities": [{"entity": "booking_code", "value": code}],
        "date_time": trigger_utc,
        "name": f"appointment_{code}",
        "kill_on_user_msg": False,
    }


def book(url: str, start: datetime, *, conversation: str, branch: str = BINJIANG, service: str = CREDIT_CARD,
         phone: str = PHONE) -> str:
    """Book a place as another turn (or customer) would, committed; its code."""
    with unit_of_work(url) as session:
        slot = AppointmentSlotRepository(session).get_or_create(BranchRepository(session).by_code(branch), start)
        return AppointmentRepository(session).book(
            slot=slot, service_type=ServiceTypeRepository(session).by_code(service), contact_phone=phone,
            conversation_id=conversation, channel="rest", at=FIXED - timedelta(days=1),
        ).code


def fill(url: str, branch: str, start: datetime) -> None:
    """Book ``start`` at ``branch`` up to its capacity, by other customers."""
    for index in range(capacity_of(url, branch)):
        book(url, start, conversation=f"other-{index}", branch=branch, phone=f"1390000000{index}")
    assert places(url, branch, start) == (capacity_of(url, branch), capacity_of(url, branch))


def capacity_of(url: str, branch: str) -> int:
    with unit_of_work(url) as session:
        return BranchRepository(session).by_code(branch).slot_capacity


def places(url: str, branch: str, start: datetime) -> Optional[tuple]:
    """(booked, capacity) of the slot, None when it was never created."""
    with unit_of_work(url) as session:
        slot = session.execute(
            select(AppointmentSlot)
            .join(AppointmentSlot.branch)
            .where(AppointmentSlot.starts_at == start)
            .where(AppointmentSlot.branch.has(code=branch))
        ).scalars().first()
        return (slot.booked, slot.capacity) if slot else None


def appointments_of(url: str, conversation: str) -> List[dict]:
    with unit_of_work(url) as session:
        found = session.execute(
            select(Appointment).where(Appointment.conversation_id == conversation).order_by(Appointment.id)
        ).scalars()
        return [
            dict(
                code=a.code, status=a.status, starts_at=a.slot.starts_at, branch=a.slot.branch.code,
                service=a.service_type.code, phone=a.contact_phone, channel=a.channel,
                reminder_job=a.reminder_job,
            )
            for a in found
        ]


def by_code(url: str, code: str) -> dict:
    with unit_of_work(url) as session:
        a = AppointmentRepository(session).by_code(code)
        return dict(status=a.status, starts_at=a.slot.starts_at, conversation=a.conversation_id)


validate = ValidateAppointmentForm()
book_action = ActionBookAppointment()
change = ActionStartAppointmentChange()
cancel = ActionCancelAppointment()
remind = ActionAppointmentReminder()


def test_the_days_used():
    assert chinese_calendar.is_workday(FIXED.date()) and FIXED.weekday() == 0
    assert chinese_calendar.is_workday(TOMORROW_3PM.date())
    assert chinese_calendar.is_workday(WEDNESDAY_10AM.date())
    assert SATURDAY.weekday() == 5 and not chinese_calendar.is_workday(SATURDAY.date())
    assert chinese_calendar.is_workday(NEXT_MONDAY.date())


# --- validate_appointment_form --------------------------------------------------


async def test_one_sentence_fills_the_service_and_the_time(url):
    messages, events = await run(validate, tracker("帮我约明天下午3点的信用卡业务"))

    assert messages == []
    assert events == [
        SlotSet("service_type", CREDIT_CARD),
        SlotSet("appointment_time", "2026-12-01T15:00:00+08:00"),
        SlotSet("appointment_confirmed", None),
    ]


async def test_a_closed_day_is_refused_with_alternatives(url):
    messages, events = await run(validate, tracker("帮我约12月5号下午3点的信用卡业务"))

    assert messages == [
        said(
            "抱歉，12月5日（周六）不是工作日，人工服务暂停。"
            "您可以选择以下时间：12月7日（周一）9:00、9:30、10:00。",
            ["12月7日（周一）9:00", "12月7日（周一）9:30", "12月7日（周一）10:00"],
        )
    ]
    assert events == [
        SlotSet("service_type", CREDIT_CARD),
        SlotSet("appointment_time", None),
        SlotSet("appointment_confirmed", None),
    ]


@pytest.mark.parametrize(
    "branch, text, start, offered",
    [
        # Filled by this test, up to 滨江支行's 2 places.
        (BINJIANG, "明天下午3点", TOMORROW_3PM, ["14:00", "14:30", "15:30"]),
        # Filled by the seed (3 places at the main branch).
        (MAIN, "明天上午10点", TOMORROW_3PM.replace(hour=10), ["9:00", "9:30", "10:30"]),
    ],
)
async def test_a_full_slot_is_refused_with_the_nearest_free_ones(url, branch, text, start, offered):
    if branch == BINJIANG:
        fill(url, branch, start)
    assert places(url, branch, start)[0] == capacity_of(url, branch)

    messages, events = await run(
        validate, tracker(text, requested_slot="appointment_time", service_type=CREDIT_CARD, branch=branch)
    )

    assert messages == [
        said(
            f"抱歉，12月1日（周二）{start:%H:%M}已经约满了。"
            f"您可以选择以下时间：12月1日（周二）{'、'.join(offered)}。",
            [f"12月1日（周二）{t}" for t in offered],
        )
    ]
    assert events == [SlotSet("appointment_time", None), SlotSet("appointment_confirmed", None)]


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("确认预约", "book_appointment", [SlotSet("appointment_confirmed", True)]),
        ("好的", "affirm", [SlotSet("appointment_confirmed", True)]),
        ("不约了", "stop", [SlotSet("appointment_confirmed", False)]),
        ("算了", "deny", [SlotSet("appointment_confirmed", False)]),
        ("换个时间", "change_appointment", [SlotSet("appointment_time", None), SlotSet("appointment_confirmed", None)]),
    ],
)
async def test_the_confirmation_step(url, text, intent, expected):
    messages, events = await run(
        validate, tracker(text, intent=intent, requested_slot="appointment_confirmed", **FILLED)
    )

    assert (messages, events) == ([], expected)


# --- action_book_appointment ----------------------------------------------------


async def test_a_confirmed_booking_is_written_with_its_reminder(url):
    messages, events = await run(book_action, after_form(appointment_confirmed=True, **FILLED))

    [row] = appointments_of(url, SENDER)
    code = row["code"]
    assert row == dict(
        code=code, status=AppointmentStatus.BOOKED, starts_at=TOMORROW_3PM, branch=BINJIANG,
        service=CREDIT_CARD, phone=PHONE, channel="rest", reminder_job=f"appointment_{code}",
    )
    assert places(url, BINJIANG, TOMORROW_3PM) == (1, 2)
    assert messages == [
        said(
            f"预约成功！预约码：{code}。\n信用卡业务，12月1日（周二）15:00，{BINJIANG_PLACE}。\n"
            "我们会在预约前提醒您；如需变更或取消，回复“改约”或“取消预约”即可。"
        )
    ]
    # 60 minutes before the start: 14:00 in Shanghai, 06:00 UTC.
    assert events == [reminder(code, "2026-12-01T06:00:00+00:00")] + CLEARED


async def test_a_place_taken_before_the_booking_asks_for_another_time(url):
    book(url, TOMORROW_3PM, conversation="bob", branch=KONGGANG)  # its only place

    messages, events = await run(
        book_action, after_form(appointment_confirmed=True, **{**FILLED, "branch": KONGGANG})
    )

    # The rules see the full slot before anything is written.
    offered = ["14:00", "14:30", "15:30"]
    assert messages == [
        said(
            "抱歉，12月1日（周二）15:00已经约满了。您可以选择以下时间：12月1日（周二）14:00、14:30、15:30。",
            [f"12月1日（周二）{t}" for t in offered],
        )
    ]
    assert events == ASK_AGAIN
    assert appointments_of(url, SENDER) == []
    assert places(url, KONGGANG, TOMORROW_3PM) == (1, 1)


async def test_a_place_taken_while_booking_says_so(url, monkeypatch):
    """Another customer takes the last place between the check and the
    booking: SlotFull, nothing of this turn is written."""
    with unit_of_work(url) as session:  # the slot exists, still free
        AppointmentSlotRepository(session).get_or_create(BranchRepository(session).by_code(KONGGANG), TOMORROW_3PM)

    class Racing(AppointmentSlotRepository):
        def get_or_create(self, branch, starts_at, **kwargs):
            slot = super().get_or_create(branch, starts_at, **kwargs)
            book(url, starts_at, conversation="bob", branch=KONGGANG)
            return slot

    monkeypatch.setattr(action_book_appointment, "AppointmentSlotRepository", Racing)

    messages, events = await run(
        book_action, after_form(appointment_confirmed=True, **{**FILLED, "branch": KONGGANG})
    )

    assert messages == [
        said("抱歉，12月1日（周二）15:00刚刚已约满。", ["12月1日（周二）14:00", "12月1日（周二）14:30", "12月1日（周二）15:30"])
    ]
    assert events == ASK_AGAIN
    assert appointments_of(url, SENDER) == []
    assert [a["status"] for a in appointments_of(url, "bob")] == [AppointmentStatus.BOOKED]
    assert places(url, KONGGANG, TOMORROW_3PM) == (1, 1)


async def test_a_declined_booking_writes_nothing(url):
    messages, events = await run(book_action, after_form("不约了", appointment_confirmed=False, **FILLED))

    assert messages == [said(texts.BOOKING_DECLINED)]
    assert events == CLEARED
    assert appointments_of(url, SENDER) == []
    assert places(url, BINJIANG, TOMORROW_3PM) is None


# --- change ---------------------------------------------------------------------


async def test_a_change_reopens_the_form_on_the_booking_and_moves_it(url):
    code = book(url, TOMORROW_3PM, conversation=SENDER)

    started = await run(change, tracker("我想改约", intent="change_appointment", active_loop=None))
    assert started == (
        [],
        [
            SlotSet("booking_code", code),
            SlotSet("service_type", CREDIT_CARD),
            SlotSet("branch", BINJIANG),
            SlotSet("contact_phone", PHONE),
            SlotSet("appointment_time", None),
            SlotSet("appointment_confirmed", None),
            FollowupAction("appointment_form"),
        ],
    )

    kept = dict(booking_code=code, service_type=CREDIT_CARD, branch=BINJIANG, contact_phone=PHONE)
    asked = await run(validate, tracker("改到后天上午10点", intent="change_appointment", **kept))
    assert asked == (
        [],
        [SlotSet("appointment_time", "2026-12-02T10:00:00+08:00"), SlotSet("appointment_confirmed", None)],
    )

    moved = await run(
        book_action,
        after_form(appointment_time=WEDNESDAY_10AM.isoformat(), appointment_confirmed=True, **kept),
    )
    assert moved == (
        [said(f"已为您改约：预约码{code}，信用卡业务，新的时间为12月2日（周三）10:00，{BINJIANG_PLACE}。")],
        # The new reminder has the old one's name and replaces it: no
        # cancel_reminder, which Rasa would apply after scheduling and so
        # drop the new reminder too.
        [reminder(code, "2026-12-02T01:00:00+00:00")] + CLEARED,
    )
    [row] = appointments_of(url, SENDER)
    assert row["code"] == code and row["status"] is AppointmentStatus.BOOKED
    assert row["starts_at"] == WEDNESDAY_10AM and row["reminder_job"] == f"appointment_{code}"
    assert places(url, BINJIANG, TOMORROW_3PM) == (0, 2)
    assert places(url, BINJIANG, WEDNESDAY_10AM) == (1, 2)


async def test_a_change_to_within_the_reminder_lead_cancels_the_reminder(url):
    code = book(url, TOMORROW_3PM, conversation=SENDER)
    soon = FIXED.replace(hour=10, minute=0)  # 30 minutes from now: too late to remind

    messages, events = await run(
        book_action,
        after_form(
            booking_code=code, service_type=CREDIT_CARD, branch=BINJIANG, contact_phone=PHONE,
            appointment_time=soon.isoformat(), appointment_confirmed=True,
        ),
    )

    assert messages == [said(f"已为您改约：预约码{code}，信用卡业务，新的时间为11月30日（周一）10:00，{BINJIANG_PLACE}。")]
    assert events == [ReminderCancelled(name=f"appointment_{code}")] + CLEARED
    assert appointments_of(url, SENDER)[0]["reminder_job"] is None


async def test_the_moved_booking_keeps_its_reminder_in_rasa(url):
    """Rasa's processor schedules a turn's reminders, then applies its
    cancellations: after a change exactly one job, at the new time, is left."""
    from rasa.core import jobs
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker

    _, booked = await run(book_action, after_form(appointment_confirmed=True, **FILLED))
    [row] = appointments_of(url, SENDER)
    code = row["code"]
    _, moved = await run(
        book_action,
        after_form(
            booking_code=code, service_type=CREDIT_CARD, branch=BINJIANG, contact_phone=PHONE,
            appointment_time=WEDNESDAY_10AM.isoformat(), appointment_confirmed=True,
        ),
    )

    class Processor:  # what _schedule_reminders needs of a MessageProcessor
        async def handle_reminder(self, *args):
            pass

    async def apply(events: List[dict]) -> None:
        parsed = [Event.from_parameters(e) for e in events]
        rasa_tracker = DialogueStateTracker(SENDER, [])
        await MessageProcessor._schedule_reminders(Processor(), parsed, rasa_tracker, None)
        await MessageProcessor._cancel_reminders(parsed, rasa_tracker)

    try:
        await apply(booked)
        await apply(moved)
        jobs_left = {job.id: job.next_run_time for job in (await jobs.scheduler()).get_jobs()}
    finally:
        jobs.kill_scheduler()
    assert jobs_left == {f"appointment_{code}": WEDNESDAY_10AM - timedelta(hours=1)}


# --- cancel ---------------------------------------------------------------------


def cancelled(code: str) -> dict:
    return said(f"已为您取消预约（预约码{code}，信用卡业务，12月1日（周二）15:00）。如需重新预约，回复“预约”即可。")


async def test_the_code_cancels_a_booking_made_in_another_conversation(url):
    code = book(url, TOMORROW_3PM, conversation="bob")

    messages, events = await run(
        cancel, tracker(f"取消预约 {code.lower()}", intent="cancel_appointment", active_loop=None)
    )

    assert messages == [cancelled(code)]
    assert events == [ReminderCancelled(name=f"appointment_{code}")]
    assert by_code(url, code)["status"] is AppointmentStatus.CANCELLED
    assert places(url, BINJIANG, TOMORROW_3PM) == (0, 2)


async def test_the_only_booking_of_the_conversation_is_cancelled(url):
    code = book(url, TOMORROW_3PM, conversation=SENDER)
    book(url, WEDNESDAY_10AM, conversation="bob")  # someone else's: not a candidate

    messages, events = await run(cancel, tracker("取消预约", intent="cancel_appointment", active_loop=None))

    assert messages == [cancelled(code)]
    assert events == [ReminderCancelled(name=f"appointment_{code}")]
    assert [a["status"] for a in appointments_of(url, SENDER)] == [AppointmentStatus.CANCELLED]
    assert [a["status"] for a in appointments_of(url, "bob")] == [AppointmentStatus.BOOKED]


async def test_nothing_to_cancel(url):
    messages, events = await run(cancel, tracker("取消预约", intent="cancel_appointment", active_loop=None))

    assert (messages, events) == ([said(texts.NO_APPOINTMENT_FOUND)], [])


async def test_cancelling_twice_finds_nothing_the_second_time(url):
    code = book(url, TOMORROW_3PM, conversation=SENDER)
    first = await run(cancel, tracker("取消预约", intent="cancel_appointment", active_loop=None))
    assert first == ([cancelled(code)], [ReminderCancelled(name=f"appointment_{code}")])

    # Only booked appointments are found, so a cancelled one is "not found",
    # by code or not (ALREADY_CANCELLED is left for two cancellations racing).
    for text in ("取消预约", f"取消预约 {code}"):
        again = await run(cancel, tracker(text, intent="cancel_appointment", active_loop=None))
        assert again == ([said(texts.NO_APPOINTMENT_FOUND)], [])
    assert by_code(url, code)["status"] is AppointmentStatus.CANCELLED
    assert places(url, BINJIANG, TOMORROW_3PM) == (0, 2)


@pytest.mark.parametrize("action, text, verb", [(cancel, "取消预约", "取消预约"), (change, "我想改约", "改约")])
async def test_several_bookings_ask_which(url, action, text, verb):
    later = book(url, WEDNESDAY_10AM, conversation=SENDER)
    sooner = book(url, TOMORROW_3PM, conversation=SENDER)

    messages, events = await run(action, tracker(text, intent="cancel_appointment", active_loop=None))

    assert messages == [
        {
            "text": "您有多个有效预约，请告诉我要操作哪一个（发送预约码）：",
            "buttons": [
                {"title": f"{sooner} 12月1日（周二）15:00", "payload": f"{verb} {sooner}"},
                {"title": f"{later} 12月2日（周三）10:00", "payload": f"{verb} {later}"},
            ],
        }
    ]
    assert events == []
    assert [a["status"] for a in appointments_of(url, SENDER)] == [AppointmentStatus.BOOKED] * 2


# --- reminder -------------------------------------------------------------------


def fired(code: str) -> Tracker:
    return tracker(
        "", intent="EXTERNAL_appointment_reminder", active_loop=None,
        entities=[{"entity": "booking_code", "value": code}],
    )


async def test_the_reminder_of_a_booking(url, monkeypatch):
    code = book(url, TOMORROW_3PM, conversation=SENDER)
    monkeypatch.setattr("bot.clock.now", lambda: TOMORROW_3PM - timedelta(hours=1))  # when it fires

    messages, events = await run(remind, fired(code))

    assert messages == [
        said(
            f"温馨提醒：您预约的信用卡业务将于12月1日（周二）15:00在{BINJIANG_PLACE}办理，预约码{code}。"
            "如需变更或取消，请回复“改约”或“取消预约”。"
        )
    ]
    assert events == []


async def test_a_cancelled_booking_is_not_reminded(url):
    code = book(url, TOMORROW_3PM, conversation=SENDER)
    await run(cancel, tracker(f"取消预约 {code}", intent="cancel_appointment", active_loop=None))

    assert await run(remind, fired(code)) == ([], [])


# --- the database is down -------------------------------------------------------


@pytest.mark.parametrize(
    "action, tracker_of",
    [
        (validate, lambda: tracker("帮我约明天下午3点的信用卡业务")),
        (book_action, lambda: after_form(appointment_confirmed=True, **FILLED)),
        (cancel, lambda: tracker("取消预约", intent="cancel_appointment", active_loop=None)),
    ],
)
async def test_the_actions_apologise_when_the_database_is_down(unreachable_db, caplog, action, tracker_of):
    messages, events = await run(action, tracker_of())

    assert (messages, events) == ([said(texts.SERVICE_UNAVAILABLE)], [])
    assert f"action {action.name()} failed" in caplog.text
