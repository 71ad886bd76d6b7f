"""The application-status actions against a real database, on SQLite and
PostgreSQL: the rasa-sdk classes are called directly (no servers) with a
tracker as Rasa would send it, and the events and messages they return are
compared in full.

The actions open their own unit of work on ``DATABASE_URL``; the fixture
points it at the test's database and stops the clock on a working day."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Optional

import chinese_calendar
import pytest
from rasa_sdk.events import SlotSet
from sqlalchemy import select

from action_fixtures import (  # noqa: F401  (fixtures are found by name)
    FIXED,
    SHANGHAI,
    actions_db,
    run,
    tracker_builder,
    unreachable_db,
)
from actions import texts
from actions.action_application_status import ActionApplicationStatus
from actions.validate_application_status_form import ValidateApplicationStatusForm
from bot.db.engine import unit_of_work
from bot.db.models import ApplicationStatus, NotificationChannel, VerificationAttempt
from bot.db.repositories import ApplicationRepository
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    NOW,
    World,
    database_url,
    postgres_database_url,
    session,
    world,
)

FORM = "application_status_form"

# world.customer (张三丰, phone 13812345678) submits at NOW (2026-11-28 10:00
# Shanghai): the first number of that day.
NUMBER = "SQ202611280001"
TYPED = "帮我查下 SQ2026 1128 0001 的进度"
RIGHT = "5678"
MISSING = "SQ209901010001"
MATERIALS_AT = datetime(2026, 11, 29, 11, 15, tzinfo=SHANGHAI)

TO_HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}
CLEARED = [
    SlotSet("application_number", None),
    SlotSet("phone_last4", None),
    SlotSet("status_locked", None),
]


# --- wiring ---------------------------------------------------------------------


@pytest.fixture
def application(session, world: World, actions_db) -> str:
    """A loan application of world.customer waiting for materials since MATERIALS_AT."""
    applications = ApplicationRepository(session)
    submitted = applications.submit(
        world.customer, world.loan, at=NOW, notification_channel=NotificationChannel.SMS,
        note="网点柜台受理",
    )
    applications.change_status(
        submitted, ApplicationStatus.UNDER_REVIEW, "材料齐全，进入审核", NOW + timedelta(hours=4)
    )
    applications.change_status(
        submitted, ApplicationStatus.MATERIALS_REQUIRED, "请补充：近三个月收入证明、身份证复印件",
        MATERIALS_AT, missing_materials="近三个月收入证明、身份证复印件。",
    )
    session.commit()
    assert submitted.number == NUMBER
    return submitted.number


tracker = tracker_builder(intent="check_application_status", form=FORM)


def said(text: str, buttons: Optional[List[dict]] = None) -> dict:
    return {"text": text, "buttons": buttons or []}


def attempts(url: str) -> List[tuple]:
    with unit_of_work(url) as session:
        return [
            (a.conversation_id, a.application_number, a.succeeded)
            for a in session.execute(select(VerificationAttempt).order_by(VerificationAttempt.id)).scalars()
        ]


validate = ValidateApplicationStatusForm()
status = ActionApplicationStatus()


def test_the_fixed_day_is_a_working_day():
    assert FIXED.weekday() == 0
    assert chinese_calendar.is_workday(FIXED.date())


# --- validate_application_status_form -------------------------------------------


async def test_the_number_in_a_sentence_is_read_and_normalised(application):
    messages, events = await run(validate, tracker(TYPED))

    # The number must be verified: any digits given before are forgotten. The
    # next slot is left to Rasa's form (required_slots are the domain's).
    assert messages == []
    assert events == [SlotSet("application_number", NUMBER), SlotSet("phone_last4", None)]


async def test_a_malformed_number_is_explained(application):
    messages, events = await run(
        validate, tracker("SQ2026112800", requested_slot="application_number")
    )

    assert messages == [said(texts.APPLICATION_NUMBER_FORMAT)]
    assert events == [SlotSet("application_number", None)]


async def test_wrong_digits_count_down_then_lock(application, actions_db):
    asked = dict(requested_slot="phone_last4", application_number=NUMBER)

    first = await run(validate, tracker("0000", **asked))
    second = await run(validate, tracker("尾号是1234", **asked))
    third = await run(validate, tracker("13900001111", **asked))  # a whole mobile: its last 4

    failed = "抱歉，信息核验未通过，请核对申请编号和手机号后4位后重新输入（还可尝试{}次）。"
    assert first == ([said(failed.format(2))], [SlotSet("phone_last4", None)])
    assert second == ([said(failed.format(1))], [SlotSet("phone_last4", None)])
    assert third == (
        [],
        [SlotSet("phone_last4", None), SlotSet("status_locked", True), SlotSet("requested_slot", None)],
    )
    assert attempts(actions_db) == [("alice", NUMBER, False)] * 3

    # Locked: the form ends at once and even the right digits are not looked at.
    locked = await run(validate, tracker(RIGHT, status_locked=True, **asked))
    assert locked == ([], [SlotSet("requested_slot", None)])
    # Asking again for the same number (the slots cleared) is still refused.
    again = await run(validate, tracker(f"再查一下{NUMBER}"))
    assert again == (
        [],
        [SlotSet("application_number", NUMBER), SlotSet("status_locked", True), SlotSet("requested_slot", None)],
    )
    assert attempts(actions_db) == [("alice", NUMBER, False)] * 3


async def test_the_right_digits_verify(application, actions_db):
    messages, events = await run(
        validate, tracker(f"后四位是{RIGHT}", requested_slot="phone_last4", application_number=NUMBER)
    )

    assert messages == []
    assert events == [
        SlotSet("phone_last4", "verified"),
        SlotSet("verified_application", NUMBER),
        SlotSet("requested_slot", None),
    ]
    assert attempts(actions_db) == [("alice", NUMBER, True)]


async def test_a_verified_number_is_not_asked_for_again(application, actions_db):
    messages, events = await run(validate, tracker(TYPED, verified_application=NUMBER))

    assert messages == []
    assert events == [
        SlotSet("application_number", NUMBER),
        SlotSet("phone_last4", None),
        SlotSet("requested_slot", None),
    ]
    assert attempts(actions_db) == []


async def test_digits_that_are_not_4_are_explained_without_an_attempt(application, actions_db):
    messages, events = await run(
        validate, tracker("56789", requested_slot="phone_last4", application_number=NUMBER)
    )

    assert messages == [said(texts.PHONE_LAST4_FORMAT)]
    assert events == [SlotSet("phone_last4", None)]
    assert attempts(actions_db) == []


async def test_a_message_without_digits_is_left_to_the_digression_rules(application, actions_db):
    messages, events = await run(
        validate,
        tracker("你们周末营业吗", intent="faq", requested_slot="phone_last4", application_number=NUMBER),
    )

    # Nothing extracted: Rasa's form rejects its execution and the FAQ rule answers.
    assert (messages, events) == ([], [])
    assert attempts(actions_db) == []


# --- action_application_status --------------------------------------------------


async def test_a_verified_customer_sees_the_stage(application):
    messages, events = await run(
        status,
        tracker(
            RIGHT, active_loop=None, application_number=NUMBER, phone_last4="verified",
            verified_application=NUMBER,
        ),
    )

    assert messages == [
        said(
            "张**您好，您的个人贷款咨询申请（SQ2026****0001）当前状态：待补充材料。\n"
            "审核需要您补充材料（2026年11月29日 11:15进入此阶段）。\n"
            "下一步：请尽快补充以下材料：近三个月收入证明、身份证复印件。材料补齐后将继续审核。\n"
            "办理结果将通过短信通知您。"
        )
    ]
    # verified_application stays: the same number is not verified again.
    assert events == CLEARED


async def test_a_locked_lookup_offers_a_human(application):
    messages, events = await run(
        status, tracker(RIGHT, active_loop=None, application_number=NUMBER, status_locked=True)
    )

    assert messages == [
        said(
            "为保护您的信息安全，核验连续未通过，查询已暂时锁定，请15分钟后再试。如需帮助，可以转人工服务核实身份。",
            [TO_HUMAN_BUTTON],
        )
    ]
    assert events == CLEARED


async def test_a_verified_number_that_is_gone_is_not_available(application):
    messages, events = await run(
        status,
        tracker(RIGHT, active_loop=None, application_number=MISSING, verified_application=MISSING),
    )

    assert messages == [said(texts.APPLICATION_NOT_AVAILABLE, [TO_HUMAN_BUTTON])]
    assert events == CLEARED


async def test_an_unverified_number_shows_nothing(application):
    messages, events = await run(status, tracker("算了", active_loop=None, application_number=NUMBER))

    assert (messages, events) == ([], CLEARED)


# --- the database is down -------------------------------------------------------


async def test_the_form_apologises_when_the_database_is_down(unreachable_db, caplog):
    messages, events = await run(validate, tracker(TYPED))

    assert (messages, events) == ([said(texts.SERVICE_UNAVAILABLE)], [])
    assert "action validate_application_status_form failed" in caplog.text


async def test_the_status_apologises_when_the_database_is_down(unreachable_db, caplog):
    messages, events = await run(
        status,
        tracker(RIGHT, active_loop=None, application_number=NUMBER, verified_application=NUMBER),
    )

    assert (messages, events) == ([said(texts.SERVICE_UNAVAILABLE)], [])
    assert "action action_application_status failed" in caplog.text
