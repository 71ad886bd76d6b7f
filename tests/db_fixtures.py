"""Fixtures of the bot.db tests: every test runs on a real SQLite file and on
a real PostgreSQL database.

PostgreSQL: ``BOT_TEST_POSTGRES_URL`` names a server and a database to connect
to for CREATE DATABASE (default: the trust-auth server on 127.0.0.1:5432,
database ``test``, as ``postgres`` or else ``root``). Each test module gets
its own database ``bot_test_<random hex>``, migrated once and dropped at the
end of the session; tables are emptied before every test. When no server
answers, the PostgreSQL half is skipped with the reason, unless ``CI`` is
set: then it fails.

Test modules import what they use:
``from db_fixtures import NOW, World, database_url, postgres_database_url, session, world``.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator, List, Optional, Tuple

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.db.engine import dispose_engine, session_factory, unit_of_work
from bot.db.migrate import upgrade
from bot.db.models import Base, Branch, BranchKind, Customer, ServiceType

BACKENDS = ["sqlite", "postgresql"]
DEFAULT_POSTGRES_URLS = [
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
]
# 10:00 in Shanghai.
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)


def _postgres_server() -> Tuple[Optional[str], str]:
    """The first candidate URL that answers, or None and why none did."""
    configured = os.environ.get("BOT_TEST_POSTGRES_URL")
    problems = []
    for url in [configured] if configured else DEFAULT_POSTGRES_URLS:
        engine = create_engine(url, future=True, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return url, ""
        except Exception as error:  # any reason counts as unreachable
            shown = make_url(url).render_as_string(hide_password=True)
            problems.append(f"{shown}: {str(error).strip()}")
        finally:
            engine.dispose()
    return None, "; ".join(problems)


def unavailable(what: str, problem: str) -> None:
    """A service the tests need is missing: fail under CI, else skip loudly."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {what} is unavailable: {problem}")
    message = f"{what} tests skipped, {what} is unavailable: {problem}"
    warnings.warn(message)
    pytest.skip(message)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "bot_test") -> Iterator[str]:
    """A new, migrated PostgreSQL database ``<prefix>_<random hex>``,
    dropped afterwards."""
    server_url, problem = _postgres_server()
    if server_url is None:
        unavailable("PostgreSQL", problem)
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(server_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        upgrade(url)
        yield url
        dispose_engine(url)
    else:
        url = request.getfixturevalue("postgres_database_url")
        _empty_all_tables(url)
        yield url


def _empty_all_tables(url: str) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with unit_of_work(url) as session:
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def session(database_url) -> Iterator[Session]:
    """A session of the test's database; the test commits what it wants kept."""
    with session_factory(database_url)() as session:
        yield session


@dataclass
class World:
    """Reference data most tests need, committed, attached to ``session``."""

    customer: Customer
    other_customer: Customer
    account_opening: ServiceType
    loan: ServiceType
    branch: Branch
    video: Branch

    @property
    def everything(self) -> List[object]:
        return list(vars(self).values())


@pytest.fixture
def world(session) -> World:
    created = World(
        customer=Customer(
            customer_no="C000001", name="张三丰", phone="13812345678",
            id_card_number="11010519491231002X", email="c000001@example.com", created_at=NOW,
        ),
        other_customer=Customer(
            customer_no="C000002", name="李四", phone="13987654321",
            id_card_number="330106199001011248", created_at=NOW,
        ),
        account_opening=ServiceType(code="account_opening", name="开户", duration_minutes=30),
        loan=ServiceType(code="personal_loan", name="个人贷款咨询", duration_minutes=45),
        branch=Branch(
            code="main", name="云溪市分行营业部", kind=BranchKind.BRANCH,
            address="云溪市中山路88号", slot_capacity=2,
        ),
        video=Branch(code="video", name="视频客服", kind=BranchKind.VIDEO, slot_capacity=4),
    )
    session.add_all(created.everything)
    session.commit()
    return created


def race(racers: int, attempt: Callable[[int], str]) -> Counter:
    """Run ``attempt`` in ``racers`` threads released at the same instant."""
    start = threading.Barrier(racers)
    outcomes: List[str] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            start.wait(timeout=30)
            outcome = attempt(index)
        except Exception as error:  # reported in the assertion below
            outcome = f"{type(error).__name__}: {error}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == racers, "a racer hung"
    return Counter(outcomes)
