"""The booking desk: names in a message, and the rules joined with the
database's full slots, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from bot.booking.desk import BookingDesk, find_mobile, place_of
from bot.booking.rules import Reason
from bot.db.models import Branch, BranchKind, ServiceType
from bot.db.repositories import AppointmentRepository, AppointmentSlotRepository
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    World,
    database_url,
    postgres_database_url,
    session,
    world,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 30 November and Tuesday 1 December 2026 are working days.
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
TUESDAY_2PM = datetime(2026, 12, 1, 14, 0, tzinfo=SHANGHAI)
TUESDAY = TUESDAY_2PM.replace(hour=0)


def at(hour: int, minute: int = 0) -> datetime:
    return TUESDAY.replace(hour=hour, minute=minute)


def test_the_days_used_are_working_days():
    assert chinese_calendar.is_workday(NOW.date())
    assert chinese_calendar.is_workday(TUESDAY.date())


@pytest.fixture
def extra(session, world):
    """A credit-card service and a second branch besides the world's."""
    credit_card = ServiceType(code="credit_card", name="信用卡业务", duration_minutes=30)
    binjiang = Branch(
        code="binjiang", name="滨江支行", kind=BranchKind.BRANCH, address="云溪市滨江路1号", slot_capacity=1
    )
    session.add_all([credit_card, binjiang])
    session.commit()
    return credit_card, binjiang


@pytest.fixture
def desk(session, world, extra) -> BookingDesk:
    return BookingDesk(session, NOW)


def fill(session, world: World, branch: Branch, start: datetime) -> None:
    """Book ``start`` at ``branch`` up to its capacity."""
    slot = AppointmentSlotRepository(session).get_or_create(branch, start)
    for index in range(slot.capacity):
        AppointmentRepository(session).book(
            slot=slot, service_type=world.account_opening, contact_phone="13812345678",
            conversation_id=f"other-{index}", channel="rest", at=NOW,
        )
    session.commit()
    assert slot.booked == slot.capacity


# --- names in a message ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我的手机是13812345678", "13812345678"),
        ("电话 138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("12345678901", None),  # not a mobile prefix
        ("138123456789", None),  # 12 digits
        ("尾号5678", None),
        ("", None),
    ],
)
def test_find_mobile(text, expected):
    assert find_mobile(text) == expected


def test_service_type_in(desk, world, extra):
    credit_card, _ = extra
    assert desk.service_type_in("我想办信用卡") is credit_card
    assert desk.service_type_in("我要预约信用卡业务") is credit_card
    assert desk.service_type_in("开户") is world.account_opening
    assert desk.service_type_in("想咨询个人贷款") is world.loan
    assert desk.service_type_in("随便看看") is None


def test_branch_in(desk, world, extra):
    _, binjiang = extra
    assert desk.branch_in("视频") is world.video
    assert desk.branch_in("我想视频办理") is world.video
    assert desk.branch_in("滨江支行") is binjiang
    assert desk.branch_in("去滨江吧") is binjiang
    assert desk.branch_in("云溪市分行营业部") is world.branch
    assert desk.branch_in("明天下午两点") is None


def test_place_of(world):
    assert place_of(world.branch) == "云溪市分行营业部（云溪市中山路88号）"
    assert place_of(world.video) == "视频客服"


# --- when -------------------------------------------------------------------------


def test_a_free_time_in_hours_on_a_working_day_is_ok(desk, world):
    for branch in (None, world.branch):
        result = desk.check(TUESDAY_2PM, branch=branch)
        assert result.reason is Reason.OK
        assert result.slot == TUESDAY_2PM
        assert result.alternatives == ()


def test_the_service_length_must_fit_before_closing(desk, world):
    assert desk.check(at(21, 30), branch=world.branch).ok
    longer = desk.check(at(21, 30), branch=world.branch, service_type=world.loan)  # 45 minutes
    assert longer.reason is Reason.OUTSIDE_HOURS


def test_a_full_slot_is_refused_with_free_alternatives(session, desk, world):
    fill(session, world, world.branch, TUESDAY_2PM)

    result = desk.check(TUESDAY_2PM, branch=world.branch)

    assert result.reason is Reason.FULLY_BOOKED
    assert result.slot is None
    assert len(result.alternatives) == 3
    assert TUESDAY_2PM not in result.alternatives
    assert all(alternative > NOW for alternative in result.alternatives)
    assert list(result.alternatives) == sorted(result.alternatives)
    # Another branch is not affected.
    assert desk.check(TUESDAY_2PM, branch=world.video).ok


def test_a_slot_with_a_place_left_is_still_ok(session, desk, world):
    slot = AppointmentSlotRepository(session).get_or_create(world.branch, TUESDAY_2PM)
    AppointmentRepository(session).book(
        slot=slot, service_type=world.account_opening, contact_phone="13812345678",
        conversation_id="other", channel="rest", at=NOW,
    )
    session.commit()
    assert slot.booked < slot.capacity
    assert desk.check(TUESDAY_2PM, branch=world.branch).ok


def test_alternatives_never_include_full_slots(session, desk, world, extra):
    _, binjiang = extra
    full = [at(13, 30), at(14), at(14, 30)]
    for start in full:
        fill(session, world, binjiang, start)

    alternatives = desk.alternatives(TUESDAY_2PM, binjiang)

    assert len(alternatives) == 3
    assert not set(alternatives) & set(full)
    # Nearest first (ties go to the earlier time), then listed in time order.
    assert alternatives == [at(12, 30), at(13), at(15)]
    assert desk.alternatives(TUESDAY_2PM, world.branch) == [at(13, 30), at(14), at(14, 30)]
