"""The demo data: complete, plausible, idempotent, and listed truthfully."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Dict, List

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.db.engine import session_factory
from bot.db.migrate import upgrade
from bot.db.models import (
    APPLICATION_NUMBER,
    Application,
    ApplicationStatus,
    Appointment,
    AppointmentSlot,
    Base,
    Branch,
    BranchKind,
    Customer,
    ServiceType,
)
from bot.db.repositories import ApplicationRepository, local_zone
from bot.db.seed import SERVICE_TYPES, SHOWCASE, DemoApplication, demo_applications, format_table, main, seed
from bot.settings import ROOT
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    NOW,
    database_url,
    postgres_database_url,
    session,
)

S = ApplicationStatus


def _row_counts(session) -> Dict[str, int]:
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }


def _applications(session) -> List[Application]:
    return list(
        session.execute(
            select(Application)
            .options(selectinload(Application.history))
            .order_by(Application.number)
        ).scalars()
    )


def test_seed_fills_every_table_the_bot_reads(session):
    assert seed(session, now=NOW) is True
    session.commit()

    counts = _row_counts(session)
    assert counts["customers"] == 30
    assert 6 <= counts["service_types"] <= 8
    assert counts["applications"] == 40 + len(SHOWCASE)
    assert counts["verification_attempts"] == 0
    branches = session.execute(select(Branch)).scalars().all()
    assert sorted(b.kind for b in branches).count(BranchKind.VIDEO) == 1
    assert 4 <= sum(b.kind is BranchKind.BRANCH for b in branches) <= 6
    assert all(b.address for b in branches if b.kind is BranchKind.BRANCH)
    assert len({c.phone for c in session.execute(select(Customer)).scalars()}) == 30
    names = {s.name for s in session.execute(select(ServiceType)).scalars()}
    assert names >= {"开户", "理财咨询", "挂失补办"}


def test_every_status_appears_with_a_plausible_history(session):
    seed(session, now=NOW)
    session.commit()
    applications = _applications(session)

    assert {a.status for a in applications} == set(S)
    materials = {code: needed for code, _name, _minutes, _description, needed in SERVICE_TYPES}
    for application in applications:
        history = application.history
        assert APPLICATION_NUMBER.fullmatch(application.number)
        local_day = application.submitted_at.astimezone(local_zone()).date()
        assert application.number[2:10] == f"{local_day:%Y%m%d}"
        assert (history[0].from_status, history[0].to_status) == (None, S.RECEIVED)
        assert history[0].changed_at == application.submitted_at
        for previous, change in zip(history, history[1:]):
            assert change.from_status is previous.to_status
            assert previous.to_status.can_become(change.to_status)
            assert previous.changed_at <= change.changed_at
            assert change.note
        assert history[-1].to_status is application.status
        assert application.updated_at == history[-1].changed_at
        assert NOW - timedelta(weeks=6) < application.submitted_at <= history[-1].changed_at < NOW
        if application.status is S.MATERIALS_REQUIRED:
            assert application.missing_materials == materials[application.service_type.code]
            assert application.history[-1].note == f"请补充：{application.missing_materials}"
        else:
            assert application.missing_materials is None


def test_a_demo_slot_is_fully_booked(session):
    seed(session, now=NOW)
    session.commit()

    full = session.execute(
        select(AppointmentSlot).where(AppointmentSlot.booked == AppointmentSlot.capacity)
    ).scalars().all()

    assert len(full) == 1
    assert full[0].starts_at > NOW
    assert full[0].starts_at.astimezone(local_zone()).weekday() < 5
    assert session.execute(
        select(func.count()).select_from(Appointment).where(Appointment.slot_id == full[0].id)
    ).scalar_one() == full[0].capacity


def test_seeding_twice_changes_nothing(database_url, session):
    seed(session, now=NOW)
    session.commit()
    before = (_row_counts(session), [(a.number, a.status) for a in _applications(session)])

    with session_factory(database_url)() as again:
        assert seed(again, now=NOW + timedelta(days=3)) is False
        again.commit()

    session.expire_all()
    assert (_row_counts(session), [(a.number, a.status) for a in _applications(session)]) == before


def test_the_same_now_gives_the_same_data(tmp_path):
    def applications_seeded_into(name: str) -> list:
        url = f"sqlite:///{tmp_path / name}"
        upgrade(url)
        with session_factory(url)() as session:
            seed(session, now=NOW)
            session.commit()
            return [
                (a.number, a.status, a.customer.phone, a.service_type.code, a.submitted_at)
                for a in _applications(session)
            ]

    assert applications_seeded_into("one.db") == applications_seeded_into("two.db")


def _assert_truthful(session, rows: List[DemoApplication]) -> None:
    assert {row.status_label for row in rows} == {status.label for status in S}
    for row in rows:
        application = ApplicationRepository(session).by_number(row.number)
        assert application is not None, row
        assert application.status.label == row.status_label
        assert application.customer.phone[-4:] == row.phone_last4
        assert application.service_type.name == row.service_name


def test_the_list_command_prints_true_rows(database_url, session, capsys):
    main(["--url", database_url, "--list"])
    output = capsys.readouterr().out.splitlines()

    assert output[0] == "demo data loaded"
    assert output[1].split("\t") == ["申请编号", "状态", "手机尾号", "业务"]
    rows = [DemoApplication(*line.split("\t")) for line in output[2:]]
    assert len(rows) == 2 * len(S)
    _assert_truthful(session, rows)

    main(["--url", database_url])
    assert capsys.readouterr().out == "database not empty: nothing seeded\n"


def test_the_module_runs_from_the_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot.db.seed", "--url", url, "--list"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "demo data loaded"
    with session_factory(url)() as session:
        _assert_truthful(session, [DemoApplication(*line.split("\t")) for line in lines[2:]])
        assert format_table(demo_applications(session)) == "\n".join(lines[1:])
