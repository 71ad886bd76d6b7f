"""Repositories: status history, verification counting, race-free booking."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Callable, List

import pytest
from sqlalchemy import func, select

from bot.db.engine import session_factory, unit_of_work
from bot.db.models import (
    Application,
    ApplicationStatus,
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
    BranchKind,
    NotificationChannel,
)
from bot.db.repositories import (
    ApplicationRepository,
    AppointmentNotActive,
    AppointmentRepository,
    AppointmentSlotRepository,
    BranchRepository,
    ConcurrentChange,
    CustomerRepository,
    IllegalStatusTransition,
    ServiceTypeRepository,
    SlotFull,
    VerificationAttemptRepository,
)
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    race,
    NOW,
    World,
    database_url,
    postgres_database_url,
    session,
    world,
)

S = ApplicationStatus
HOUR = timedelta(hours=1)


def _submit(session, world: World, at: datetime = NOW) -> Application:
    return ApplicationRepository(session).submit(
        world.customer, world.loan, at=at, notification_channel=NotificationChannel.SMS, note="网点受理"
    )


def _history(database_url: str, number: str) -> List[tuple]:
    """The stored history, read in a fresh session."""
    with session_factory(database_url)() as fresh:
        application = ApplicationRepository(fresh).by_number(number)
        return [(c.from_status, c.to_status, c.note, c.changed_at) for c in application.history]


def _stored_status(database_url: str, number: str) -> ApplicationStatus:
    with session_factory(database_url)() as fresh:
        return ApplicationRepository(fresh).by_number(number).status


# --- applications -----------------------------------------------------------


def test_a_new_application_is_received_with_a_first_history_entry(database_url, session, world):
    application = _submit(session, world)
    session.commit()

    assert application.number == "SQ202611280001"
    assert application.status is S.RECEIVED
    assert _history(database_url, application.number) == [(None, S.RECEIVED, "网点受理", NOW)]


def test_numbers_count_per_local_day(session, world):
    # 16:30 UTC on the 27th is 00:30 on the 28th in Shanghai.
    first = _submit(session, world, at=datetime(2026, 11, 27, 16, 30, tzinfo=timezone.utc))
    second = _submit(session, world, at=NOW)
    earlier_day = _submit(session, world, at=datetime(2026, 11, 27, 15, 30, tzinfo=timezone.utc))
    assert [first.number, second.number, earlier_day.number] == [
        "SQ202611280001",
        "SQ202611280002",
        "SQ202611270001",
    ]


def test_legal_transitions_append_history(database_url, session, world):
    application = _submit(session, world)
    repository = ApplicationRepository(session)

    repository.change_status(application, S.UNDER_REVIEW, "进入审核", NOW + HOUR)
    repository.change_status(
        application, S.MATERIALS_REQUIRED, "请补充收入证明", NOW + 2 * HOUR,
        missing_materials="近三个月收入证明、身份证复印件",
    )
    session.commit()

    assert application.status is S.MATERIALS_REQUIRED
    assert application.updated_at == NOW + 2 * HOUR
    assert application.missing_materials == "近三个月收入证明、身份证复印件"
    assert _history(database_url, application.number) == [
        (None, S.RECEIVED, "网点受理", NOW),
        (S.RECEIVED, S.UNDER_REVIEW, "进入审核", NOW + HOUR),
        (S.UNDER_REVIEW, S.MATERIALS_REQUIRED, "请补充收入证明", NOW + 2 * HOUR),
    ]

    repository.change_status(application, S.UNDER_REVIEW, "已补充", NOW + 3 * HOUR)
    repository.change_status(application, S.APPROVED, "审核通过", NOW + 4 * HOUR)
    repository.change_status(application, S.COMPLETED, "已办结", NOW + 5 * HOUR)
    session.commit()

    with session_factory(database_url)() as fresh:
        stored = ApplicationRepository(fresh).by_number(application.number)
        assert stored.status is S.COMPLETED
        assert stored.missing_materials is None
        assert [c.to_status for c in stored.history] == [
            S.RECEIVED,
            S.UNDER_REVIEW,
            S.MATERIALS_REQUIRED,
            S.UNDER_REVIEW,
            S.APPROVED,
            S.COMPLETED,
        ]
        assert stored.customer.customer_no == "C000001"
        assert stored.service_type.code == "personal_loan"


@pytest.mark.parametrize(
    "path, illegal",
    [
        ((), S.APPROVED),
        ((), S.COMPLETED),
        ((), S.RECEIVED),
        ((S.UNDER_REVIEW,), S.COMPLETED),
        ((S.UNDER_REVIEW,), S.UNDER_REVIEW),
        ((S.UNDER_REVIEW, S.RETURNED), S.UNDER_REVIEW),
        ((S.UNDER_REVIEW, S.MATERIALS_REQUIRED), S.APPROVED),
        ((S.UNDER_REVIEW, S.APPROVED, S.COMPLETED), S.UNDER_REVIEW),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(database_url, session, world, path, illegal):
    application = _submit(session, world)
    repository = ApplicationRepository(session)
    for step in path:
        repository.change_status(application, step, "", NOW, missing_materials="身份证复印件")
    session.commit()
    before = _history(database_url, application.number)

    with pytest.raises(IllegalStatusTransition, match=f"to {illegal.value}"):
        repository.change_status(
            application, illegal, "不该发生", NOW + HOUR, missing_materials="身份证复印件"
        )
    session.commit()

    assert application.status is (path[-1] if path else S.RECEIVED)
    assert _stored_status(database_url, application.number) is application.status
    assert _history(database_url, application.number) == before


def test_materials_required_needs_the_missing_materials(session, world):
    application = _submit(session, world)
    repository = ApplicationRepository(session)
    repository.change_status(application, S.UNDER_REVIEW, "", NOW)
    with pytest.raises(ValueError, match="materials"):
        repository.change_status(application, S.MATERIALS_REQUIRED, "", NOW, missing_materials=" ")
    assert application.status is S.UNDER_REVIEW


def test_a_status_changed_meanwhile_is_not_overwritten(database_url, session, world):
    application = _submit(session, world)
    ApplicationRepository(session).change_status(application, S.UNDER_REVIEW, "", NOW)
    session.commit()

    with unit_of_work(database_url) as other:
        elsewhere = ApplicationRepository(other).by_number(application.number)
        ApplicationRepository(other).change_status(elsewhere, S.APPROVED, "通过", NOW + HOUR)

    with pytest.raises(ConcurrentChange):
        ApplicationRepository(session).change_status(application, S.RETURNED, "退回", NOW + HOUR)
    session.commit()
    assert _stored_status(database_url, application.number) is S.APPROVED
    assert [entry[1] for entry in _history(database_url, application.number)] == [
        S.RECEIVED, S.UNDER_REVIEW, S.APPROVED
    ]


def test_lookups(session, world):
    older = _submit(session, world, at=NOW - 24 * HOUR)
    newer = _submit(session, world, at=NOW)
    ApplicationRepository(session).submit(
        world.other_customer, world.loan, at=NOW, notification_channel=NotificationChannel.EMAIL
    )
    session.commit()
    repository = ApplicationRepository(session)

    assert repository.by_number(" sq2026-1128 0001 ") is newer
    assert repository.by_number("SQ209901010001") is None
    assert repository.for_customer(world.customer) == [newer, older]
    assert CustomerRepository(session).by_phone("13812345678") is world.customer
    assert CustomerRepository(session).by_customer_no("C000002") is world.other_customer
    assert ServiceTypeRepository(session).by_code("account_opening") is world.account_opening
    assert ServiceTypeRepository(session).by_name("个人贷款咨询") is world.loan
    assert BranchRepository(session).active(kind=BranchKind.VIDEO) == [world.video]
    assert BranchRepository(session).active() == [world.branch, world.video]


# --- verification attempts ----------------------------------------------------


def test_failures_are_counted_per_conversation_and_per_application(session):
    attempts = VerificationAttemptRepository(session)
    window_start = NOW - timedelta(minutes=15)

    def record(conversation: str, number: str, succeeded: bool, minutes_ago: int) -> None:
        attempts.record(
            conversation_id=conversation, application_number=number, succeeded=succeeded,
            at=NOW - timedelta(minutes=minutes_ago),
        )

    record("alice", "SQ202611280001", False, 20)  # before the window
    record("alice", "SQ202611280001", False, 10)
    record("alice", "sq 2026 1128 0001", False, 5)  # the same number, typed differently
    record("alice", "SQ202611280002", False, 4)
    record("alice", "SQ202611280002", True, 3)  # successes are not failures
    record("bob", "SQ202611280001", False, 2)
    record("bob", "SQ209999999999", False, 1)  # no such application: counted all the same

    def failures(**key) -> int:
        return attempts.count_recent_failures(since=window_start, **key)

    assert failures(conversation_id="alice") == 3
    assert failures(conversation_id="bob") == 2
    assert failures(conversation_id="carol") == 0
    assert failures(application_number="SQ202611280001") == 3
    assert failures(application_number="sq202611280001") == 3
    assert failures(application_number="SQ202611280002") == 1
    assert failures(application_number="SQ209999999999") == 1
    assert attempts.count_recent_failures(
        since=NOW - timedelta(minutes=30), application_number="SQ202611280001"
    ) == 4
    # The window includes its start.
    assert attempts.count_recent_failures(
        since=NOW - timedelta(minutes=10), conversation_id="alice"
    ) == 3


def test_counting_needs_exactly_one_key(session):
    attempts = VerificationAttemptRepository(session)
    with pytest.raises(ValueError):
        attempts.count_recent_failures(since=NOW)
    with pytest.raises(ValueError):
        attempts.count_recent_failures(since=NOW, conversation_id="a", application_number="b")


def test_absurdly_long_input_is_stored_truncated(session):
    attempt = VerificationAttemptRepository(session).record(
        conversation_id="alice", application_number="SQ" + "9" * 200, succeeded=False, at=NOW
    )
    session.commit()
    assert len(attempt.application_number) == 64


# --- slots and appointments ---------------------------------------------------


def _book(
    session, world: World, slot: AppointmentSlot, conversation: str = "alice", customer=None
) -> Appointment:
    return AppointmentRepository(session).book(
        slot=slot, service_type=world.account_opening, contact_phone="13812345678",
        conversation_id=conversation, channel="rest", at=NOW, customer=customer,
    )


def _booked(database_url: str, slot_id: int) -> int:
    with session_factory(database_url)() as fresh:
        return fresh.get(AppointmentSlot, slot_id).booked


def _appointment_count(database_url: str, status: AppointmentStatus = None) -> int:
    statement = select(func.count()).select_from(Appointment)
    if status is not None:
        statement = statement.where(Appointment.status == status)
    with session_factory(database_url)() as fresh:
        return fresh.execute(statement).scalar_one()


def test_slots_are_created_once_with_the_branch_capacity(session, world):
    slots = AppointmentSlotRepository(session)
    tomorrow_ten = NOW + 24 * HOUR

    created = slots.get_or_create(world.branch, tomorrow_ten)
    again = slots.get_or_create(world.branch, tomorrow_ten, capacity=9)
    bigger = slots.get_or_create(world.branch, tomorrow_ten + HOUR, length=HOUR, capacity=5)

    assert again is created
    assert (created.capacity, created.booked) == (2, 0)
    assert (bigger.capacity, bigger.ends_at) == (5, tomorrow_ten + 2 * HOUR)
    assert session.execute(select(func.count()).select_from(AppointmentSlot)).scalar_one() == 2


def test_free_and_full_slots_between_two_times(session, world):
    slots = AppointmentSlotRepository(session)
    nine, ten, eleven = NOW - HOUR, NOW, NOW + HOUR
    for start in (nine, ten, eleven):
        slots.get_or_create(world.branch, start, capacity=1)
    slots.get_or_create(world.video, ten)
    _book(session, world, slots.get_or_create(world.branch, ten))

    def starts(found: List[AppointmentSlot]) -> List[datetime]:
        return [slot.starts_at for slot in found]

    assert starts(slots.free_between(world.branch, nine, eleven + HOUR)) == [nine, eleven]
    assert starts(slots.full_between(world.branch, nine, eleven + HOUR)) == [ten]
    assert starts(slots.free_between(world.branch, nine, eleven)) == [nine]


def test_booking_takes_a_place_until_the_slot_is_full(database_url, session, world):
    slot = AppointmentSlotRepository(session).get_or_create(world.branch, NOW + HOUR)
    first = _book(session, world, slot, customer=world.customer)
    second = _book(session, world, slot, conversation="bob")
    session.commit()

    assert first.status is AppointmentStatus.BOOKED
    assert first.code != second.code
    assert (first.customer_id, second.customer_id) == (world.customer.id, None)
    assert slot.booked == 2
    assert _booked(database_url, slot.id) == 2

    with pytest.raises(SlotFull):
        _book(session, world, slot, conversation="carol")
    session.commit()  # a domain error leaves nothing half done

    assert _booked(database_url, slot.id) == 2
    assert _appointment_count(database_url) == 2


def test_cancelling_frees_the_place_once(database_url, session, world):
    slot = AppointmentSlotRepository(session).get_or_create(world.branch, NOW + HOUR, capacity=1)
    appointment = _book(session, world, slot)
    session.commit()
    repository = AppointmentRepository(session)

    repository.cancel(appointment, at=NOW + timedelta(minutes=1))
    session.commit()

    assert appointment.status is AppointmentStatus.CANCELLED
    assert slot.booked == 0
    assert _booked(database_url, slot.id) == 0
    with pytest.raises(AppointmentNotActive):
        repository.cancel(appointment, at=NOW + timedelta(minutes=2))
    session.commit()
    assert _booked(database_url, slot.id) == 0

    # The freed place can be booked again.
    _book(session, world, slot, conversation="bob")
    session.commit()
    assert _booked(database_url, slot.id) == 1


def test_rescheduling_moves_the_place(database_url, session, world):
    slots = AppointmentSlotRepository(session)
    old = slots.get_or_create(world.branch, NOW + HOUR)
    new = slots.get_or_create(world.video, NOW + 2 * HOUR)
    appointment = _book(session, world, old)
    session.commit()

    AppointmentRepository(session).reschedule(appointment, new, at=NOW + timedelta(minutes=1))
    session.commit()

    assert appointment.slot is new
    assert appointment.updated_at == NOW + timedelta(minutes=1)
    assert (old.booked, new.booked) == (0, 1)
    assert (_booked(database_url, old.id), _booked(database_url, new.id)) == (0, 1)
    with session_factory(database_url)() as fresh:
        assert fresh.get(Appointment, appointment.id).slot_id == new.id


def test_rescheduling_to_a_full_slot_changes_nothing(database_url, session, world):
    slots = AppointmentSlotRepository(session)
    old = slots.get_or_create(world.branch, NOW + HOUR)
    full = slots.get_or_create(world.branch, NOW + 2 * HOUR, capacity=1)
    appointment = _book(session, world, old)
    _book(session, world, full, conversation="bob")
    session.commit()

    with pytest.raises(SlotFull):
        AppointmentRepository(session).reschedule(appointment, full, at=NOW)
    session.commit()

    assert appointment.slot_id == old.id
    assert (_booked(database_url, old.id), _booked(database_url, full.id)) == (1, 1)


def test_a_cancelled_appointment_cannot_be_rescheduled(database_url, session, world):
    slots = AppointmentSlotRepository(session)
    old = slots.get_or_create(world.branch, NOW + HOUR)
    new = slots.get_or_create(world.branch, NOW + 2 * HOUR)
    appointment = _book(session, world, old)
    repository = AppointmentRepository(session)
    repository.cancel(appointment, at=NOW)
    session.commit()

    with pytest.raises(AppointmentNotActive):
        repository.reschedule(appointment, new, at=NOW)
    session.commit()

    assert (_booked(database_url, old.id), _booked(database_url, new.id)) == (0, 0)


def test_appointment_lookups(session, world):
    slots = AppointmentSlotRepository(session)
    past = _book(session, world, slots.get_or_create(world.branch, NOW - HOUR))
    later = _book(session, world, slots.get_or_create(world.branch, NOW + 3 * HOUR))
    sooner = _book(
        session, world, slots.get_or_create(world.video, NOW + HOUR), customer=world.customer
    )
    cancelled = _book(session, world, slots.get_or_create(world.branch, NOW + 2 * HOUR))
    by_other_conversation = _book(
        session, world, slots.get_or_create(world.branch, NOW + 4 * HOUR), conversation="bob",
        customer=world.customer,
    )
    repository = AppointmentRepository(session)
    repository.cancel(cancelled, at=NOW)
    session.commit()

    code = later.code
    assert repository.by_code(f" {code[:4].lower()}-{code[4:]} ") is later
    assert repository.by_code("YYZZZZZZ") is None
    assert repository.active_future(now=NOW, conversation_id="alice") == [sooner, later]
    assert repository.active_future(now=NOW, customer=world.customer) == [
        sooner, by_other_conversation
    ]
    assert repository.active_future(now=NOW, conversation_id="alice", customer=world.customer) == [
        sooner, later, by_other_conversation
    ]
    assert past not in repository.active_future(now=NOW - 2 * HOUR, conversation_id="bob")
    with pytest.raises(ValueError):
        repository.active_future(now=NOW)


def test_invalid_contact_phone_is_refused_before_taking_a_place(database_url, session, world):
    slot = AppointmentSlotRepository(session).get_or_create(world.branch, NOW + HOUR)
    session.commit()
    with pytest.raises(ValueError):
        AppointmentRepository(session).book(
            slot=slot, service_type=world.loan, contact_phone="110", conversation_id="alice",
            channel="rest", at=NOW,
        )
    session.commit()
    assert _booked(database_url, slot.id) == 0


# --- races ------------------------------------------------------------------------


def _racing_booker(
    database_url: str, world: World, starts_at: datetime, capacity: int
) -> Callable[[int], str]:
    """A racer: in its own unit of work, find (or create) the slot and book it."""

    def attempt(index: int) -> str:
        with unit_of_work(database_url) as session:
            branch = BranchRepository(session).by_code(world.branch.code)
            slot = AppointmentSlotRepository(session).get_or_create(
                branch, starts_at, capacity=capacity
            )
            try:
                AppointmentRepository(session).book(
                    slot=slot, service_type=world.account_opening, contact_phone="13812345678",
                    conversation_id=f"racer-{index}", channel="rest", at=NOW,
                )
            except SlotFull:
                return "full"
            return "booked"

    return attempt


def _assert_one_slot_booked_by(database_url: str, world: World, capacity: int) -> None:
    with session_factory(database_url)() as fresh:
        slots = fresh.execute(
            select(AppointmentSlot).where(AppointmentSlot.branch_id == world.branch.id)
        ).scalars().all()
        assert [(s.capacity, s.booked) for s in slots] == [(capacity, capacity)]
        assert fresh.execute(
            select(func.count()).select_from(Appointment).where(Appointment.slot_id == slots[0].id)
        ).scalar_one() == capacity


@pytest.mark.parametrize("capacity, racers", [(1, 8), (3, 10)])
def test_racing_customers_never_overbook(database_url, session, world, capacity, racers):
    """All racers hold the slot and book its last places at the same instant:
    exactly ``capacity`` of them get one."""
    starts_at = NOW + 24 * HOUR
    AppointmentSlotRepository(session).get_or_create(world.branch, starts_at, capacity=capacity)
    session.commit()

    outcomes = race(racers, _racing_booker(database_url, world, starts_at, capacity))

    assert outcomes == Counter(booked=capacity, full=racers - capacity)
    _assert_one_slot_booked_by(database_url, world, capacity)


@pytest.mark.parametrize("capacity, racers", [(1, 8), (3, 10)])
def test_racing_customers_create_the_slot_once(database_url, world, capacity, racers):
    """Racers for a time nobody has looked at yet: one slot row, no overbooking."""
    starts_at = NOW + 24 * HOUR

    outcomes = race(racers, _racing_booker(database_url, world, starts_at, capacity))

    assert outcomes == Counter(booked=capacity, full=racers - capacity)
    _assert_one_slot_booked_by(database_url, world, capacity)


def test_racing_cancellations_free_one_place(database_url, session, world):
    slot = AppointmentSlotRepository(session).get_or_create(world.branch, NOW + HOUR)
    appointment = _book(session, world, slot)
    _book(session, world, slot, conversation="bob")
    session.commit()

    def attempt(_index: int) -> str:
        with unit_of_work(database_url) as other:
            mine = AppointmentRepository(other).by_code(appointment.code)
            try:
                AppointmentRepository(other).cancel(mine, at=NOW)
            except AppointmentNotActive:
                return "already cancelled"
            return "cancelled"

    assert race(6, attempt) == Counter({"cancelled": 1, "already cancelled": 5})
    assert _booked(database_url, slot.id) == 1
    assert _appointment_count(database_url, AppointmentStatus.BOOKED) == 1
