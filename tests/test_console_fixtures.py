"""Fixtures of the console tests (no tests here): the console on a real
database (SQLite and PostgreSQL, see db_fixtures) with the demo agents
seeded, test clients that log in, and cases opened the way the bot opens them.

Test modules import what they use:
``from test_console_fixtures import console, database_url, postgres_database_url, ...``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, Optional
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from bot.booking.calendar import ServiceCalendar
from bot.console.app import create_app
from bot.console.delivery import CustomerLine
from bot.db.engine import unit_of_work
from bot.handoff import repositories as handoff_repositories
from bot.handoff.models import HandoffReason, MessageAuthor
from bot.handoff.passwords import hash_password
from bot.handoff.repositories import CaseRepository
from bot.handoff.seed import seed_handoff
from bot.settings import Settings
from db_fixtures import database_url, postgres_database_url  # noqa: F401

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 27 November 2026, a working day: cases come in from 10:00, the
# console's clock says 10:30.
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
NOW = T0 + timedelta(minutes=30)
MINUTE = timedelta(minutes=1)
PASSWORD = "console-test-password"
ALLOWED_ORIGIN = "https://kefu.example.com"
INTERNAL_TOKEN = "relay-test-token"
SUMMARY = {
    "intent": "ask_card_frozen",
    "question": "我的信用卡被冻结了，怎么办？",
    "answers": ["您可以拨打客服热线解冻。"],
    "slots": {"card_type": "信用卡"},
    "verified": False,
}


@lru_cache(maxsize=None)
def _cached_hash(password: str) -> str:
    return hash_password(password)


@pytest.fixture(autouse=True)
def fast_seeding(monkeypatch):
    """Seeding hashes each demo agent's password with Argon2 (a fifth of a
    second each): the same real hash is reused for the same password."""
    monkeypatch.setattr(handoff_repositories, "hash_password", _cached_hash)


@pytest.fixture(scope="module")
def calendar() -> ServiceCalendar:
    return ServiceCalendar(timezone="Asia/Shanghai")


@pytest.fixture
def db(database_url) -> str:  # noqa: F811
    """The test's database with the demo agents and canned replies."""
    with unit_of_work(database_url) as session:
        seed_handoff(session, now=T0, password=PASSWORD)
    return database_url


class RecordingLine(CustomerLine):
    """The console's line to customers, recording instead of calling Rasa
    (the end-to-end tests in test_handoff_e2e use the real Rasa server)."""

    def __init__(self, accepts: bool = True) -> None:
        super().__init__("http://rasa.invalid")
        self.accepts = accepts
        self.sent: list = []  # (conversation_id, events)

    async def _append(self, conversation_id: str, events: list) -> bool:
        self.sent.append((conversation_id, events))
        return self.accepts

    def texts(self, conversation_id: str) -> list:
        return [
            event["text"]
            for conversation, events in self.sent
            if conversation == conversation_id
            for event in events
            if event["event"] == "bot"
        ]


def make_app(db: str, calendar: ServiceCalendar, **options: Any) -> web.Application:
    settings = Settings(
        console_secret_key=Fernet.generate_key().decode(),
        console_allowed_origins=[ALLOWED_ORIGIN],
        internal_token=INTERNAL_TOKEN,
    )
    options.setdefault("cookie_secure", False)
    options.setdefault("clock", lambda: NOW)
    options.setdefault("customer_line", RecordingLine())
    options.setdefault("sla_check_seconds", 0)  # tests call watcher.tick themselves
    return create_app(settings, database_url=db, calendar=calendar, **options)


@dataclass
class Console:
    """The console under test: one server, as many browsers as a test wants."""

    app: web.Application
    server: Any
    new_client: Callable[[], Awaitable[TestClient]]
    db: str

    @property
    def line(self) -> RecordingLine:
        from bot.console.context import CUSTOMER_LINE

        return self.app[CUSTOMER_LINE]

    @property
    def origin(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    async def client(self) -> TestClient:
        return await self.new_client()

    async def agent(self, username: str, password: str = PASSWORD) -> TestClient:
        """A browser in which ``username`` is logged in (its CSRF token at ``.csrf``)."""
        client = await self.new_client()
        response = await login(client, username, password)
        assert response.status == 200, await response.text()
        client.csrf = (await response.json())["csrf_token"]
        return client


@pytest.fixture
async def console(db, calendar, aiohttp_server, aiohttp_client) -> Console:
    app = make_app(db, calendar)
    server = await aiohttp_server(app)
    return Console(app, server, lambda: aiohttp_client(server), db)


async def login_token(client: TestClient) -> str:
    response = await client.get("/login")
    assert response.status == 200
    return (await response.json())["csrf_token"]


async def login(client: TestClient, username: str, password: str, token: Optional[str] = None):
    token = token if token is not None else await login_token(client)
    return await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


async def post(client: TestClient, path: str, body: Optional[Dict[str, Any]] = None, **kwargs):
    """A POST of the JSON API with the client's CSRF token."""
    headers = {"X-CSRF-Token": getattr(client, "csrf", "")}
    headers.update(kwargs.pop("headers", {}))
    return await client.post(path, json=body if body is not None else {}, headers=headers, **kwargs)


def open_case(
    db: str,
    calendar: ServiceCalendar,
    conversation: str = "alice",
    *,
    reason: HandoffReason = HandoffReason.REQUEST_HUMAN,
    at: datetime = T0,
    summary: Optional[Dict[str, Any]] = None,
    **options: Any,
) -> str:
    """A case as the bot opens it; its number."""
    with unit_of_work(db) as session:
        case = CaseRepository(session).open_case(
            conversation, "rest", reason, summary or SUMMARY, at, calendar, **options
        )
        return case.number


def customer_says(db: str, number: str, text: str, at: datetime = T0) -> None:
    with unit_of_work(db) as session:
        repo = CaseRepository(session)
        repo.add_message(repo.by_number(number), MessageAuthor.CUSTOMER, text, at=at)


def stored(db: str, number: str, *attributes: str):
    with unit_of_work(db) as session:
        case = CaseRepository(session).by_number(number)
        owner = case.owner.username if case.owner else None
        handler = case.handler.username if case.handler else None
        values = {"owner": owner, "handler": handler, "status": case.status.value,
                  "stage": case.stage.value}
        return tuple(values[name] if name in values else getattr(case, name) for name in attributes)
