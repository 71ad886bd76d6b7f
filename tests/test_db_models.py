"""Schema, migrations, engine and the rules carried by the models, on SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.db.engine import dispose_engine, get_engine, session_factory, unit_of_work
from bot.db.migrate import current_revision, downgrade, head_revision, upgrade
from bot.db.models import (
    APPOINTMENT_CODE_ALPHABET,
    Application,
    ApplicationStatus,
    AppointmentSlot,
    Base,
    Customer,
    NotificationChannel,
    application_number,
    new_appointment_code,
    normalise_application_number,
)
from bot.db.repositories import ApplicationRepository, AppointmentSlotRepository
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    NOW,
    World,
    database_url,
    postgres_database_url,
    session,
    world,
)

S = ApplicationStatus


def _schema_differences(url: str, metadata: MetaData) -> list:
    with get_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_migrated_schema_matches_the_models(database_url):
    assert _schema_differences(database_url, Base.metadata) == []
    assert current_revision(database_url) == head_revision() == "0002"


def test_the_schema_comparison_would_notice_a_difference(database_url):
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["customers"].append_column(Column("loyalty_points", Integer))

    differences = _schema_differences(database_url, changed)

    assert [(d[0], d[2], d[3].name) for d in differences] == [
        ("add_column", "customers", "loyalty_points")
    ]


def test_upgrade_twice_is_harmless_and_downgrade_removes_every_table(database_url):
    upgrade(database_url)
    try:
        downgrade(database_url, "base")
        left = set(inspect(get_engine(database_url)).get_table_names()) - {"alembic_version"}
        assert left == set()
        assert current_revision(database_url) is None
    finally:
        upgrade(database_url)
    assert _schema_differences(database_url, Base.metadata) == []


def test_timestamps_come_back_as_aware_utc(session, world: World):
    shanghai = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    world.customer.created_at = shanghai
    session.commit()
    session.expire_all()

    stored = session.get(Customer, world.customer.id).created_at

    assert stored == shanghai
    assert stored.tzinfo is timezone.utc
    assert stored.hour == 2


def test_naive_timestamps_are_refused(session, world: World):
    world.customer.created_at = datetime(2026, 11, 28, 10, 0)
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_statuses_are_stored_as_english_values_with_chinese_labels(session, world: World):
    application = ApplicationRepository(session).submit(
        world.customer, world.loan, at=NOW, notification_channel=NotificationChannel.APP_PUSH
    )
    session.commit()

    raw = session.execute(
        text("SELECT status, notification_channel FROM applications WHERE id = :id"),
        {"id": application.id},
    ).one()

    assert tuple(raw) == ("received", "app_push")
    assert [(s.value, s.label) for s in ApplicationStatus] == [
        ("received", "受理"),
        ("under_review", "审核中"),
        ("approved", "已批准"),
        ("returned", "已退回"),
        ("materials_required", "补充材料"),
        ("completed", "已完成"),
    ]


ALLOWED = {
    (S.RECEIVED, S.UNDER_REVIEW),
    (S.UNDER_REVIEW, S.APPROVED),
    (S.UNDER_REVIEW, S.RETURNED),
    (S.UNDER_REVIEW, S.MATERIALS_REQUIRED),
    (S.MATERIALS_REQUIRED, S.UNDER_REVIEW),
    (S.APPROVED, S.COMPLETED),
}


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transition_rules(old, new):
    assert old.can_become(new) is ((old, new) in ALLOWED)


def test_phone_numbers_must_be_mainland_mobiles():
    with pytest.raises(ValueError, match="mainland mobile"):
        Customer(phone="1381234567")
    with pytest.raises(ValueError, match="mainland mobile"):
        Customer(phone="12812345678")
    assert Customer(phone="19912345678").phone == "19912345678"


@pytest.mark.parametrize(
    "typed",
    ["SQ202611280001", "sq202611280001", " sq 2026-1128-0001 ", "ＳＱ２０２６１１２８０００１"],
)
def test_application_numbers_are_normalised(typed):
    assert normalise_application_number(typed) == "SQ202611280001"


def test_application_number_format():
    assert application_number(NOW.date(), 7) == "SQ202611280007"
    with pytest.raises(ValueError):
        application_number(NOW.date(), 10_000)


def test_appointment_codes_are_short_and_unambiguous():
    codes = {new_appointment_code() for _ in range(2000)}
    assert all(re.fullmatch(r"YY[A-Z2-9]{6}", code) for code in codes)
    assert not set("".join(code[2:] for code in codes)) & set("0O1IL")
    assert set("".join(code[2:] for code in codes)) <= set(APPOINTMENT_CODE_ALPHABET)
    assert len(codes) > 1990


def test_the_database_refuses_to_overbook_a_slot(database_url, session, world: World):
    slot = AppointmentSlotRepository(session).get_or_create(world.branch, NOW)
    session.commit()

    with pytest.raises(IntegrityError):
        with unit_of_work(database_url) as other:
            other.execute(
                text("UPDATE appointment_slots SET booked = capacity + 1 WHERE id = :id"),
                {"id": slot.id},
            )
    assert session.execute(select(AppointmentSlot.booked)).scalar_one() == 0


def test_foreign_keys_are_enforced(database_url, world: World):
    with pytest.raises(IntegrityError):
        with unit_of_work(database_url) as other:
            other.add(
                Application(
                    number="SQ202611280001",
                    customer_id=9999,
                    service_type_id=world.loan.id,
                    status=S.RECEIVED,
                    submitted_at=NOW,
                    updated_at=NOW,
                    notification_channel=NotificationChannel.SMS,
                )
            )


def test_slot_length_and_capacity_defaults(session, world: World):
    slot = AppointmentSlotRepository(session).get_or_create(world.video, NOW)
    assert slot.ends_at - slot.starts_at == timedelta(minutes=30)
    assert (slot.capacity, slot.booked, slot.free_places) == (4, 0, 4)


def test_unit_of_work_commits_on_success_and_rolls_back_on_error(database_url):
    def new_customer(customer_no: str) -> Customer:
        return Customer(
            customer_no=customer_no, name="王五", phone="13700000000",
            id_card_number="11010519491231002X", created_at=NOW,
        )

    with pytest.raises(RuntimeError):
        with unit_of_work(database_url) as session:
            session.add(new_customer("C1"))
            session.flush()
            raise RuntimeError("the action failed")
    with unit_of_work(database_url) as session:
        session.add(new_customer("C2"))

    with session_factory(database_url)() as fresh:
        assert fresh.execute(select(Customer.customer_no)).scalars().all() == ["C2"]


def test_one_engine_per_url_and_sqlite_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'app.db'}"
    try:
        engine = get_engine(url)
        assert get_engine(url) is engine
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 30_000
        assert (tmp_path / "nested" / "dir" / "app.db").exists()
    finally:
        dispose_engine(url)
    assert get_engine(url) is not engine
    dispose_engine(url)
