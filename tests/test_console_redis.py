"""The console as several processes sharing Redis (the scale-out deployment).

Two console apps on one database and one Redis key prefix stand for two
console processes behind a load balancer: what one of them does (an event,
failed logins, a logout, an agent's open console) must hold on the other.
Redis is the real one (``redis_fixtures``); each test has its own key prefix.
Without ``redis_url`` the console keeps all of it in process, as before.
"""
from __future__ import annotations

import asyncio
import socket
import time
from typing import Any, Awaitable, Callable, Dict, List, Tuple

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from bot.console.app import create_app
from bot.console.context import HUB, LOGIN_LIMITER, PRESENCE, REVOKED_SESSIONS
from bot.console.hub import Hub
from bot.console.presence import LocalPresence
from bot.console.security import LoginRateLimiter, RevokedSessions
from bot.console.shared_state import (
    RedisEventBus,
    RedisLink,
    RedisLoginRateLimiter,
    RedisPresence,
    RedisRevokedSessions,
)
from bot.settings import Settings
from redis_fixtures import redis_keys, redis_prefix, redis_server_url  # noqa: F401
from console_ws_helpers import connect as _connect, next_of as _next_of
from test_console_fixtures import (  # noqa: F401  (fixtures are found by name)
    ALLOWED_ORIGIN,
    INTERNAL_TOKEN,
    NOW,
    PASSWORD,
    Console,
    RecordingLine,
    calendar,
    database_url,
    db,
    fast_seeding,
    login,
    open_case,
    post,
    postgres_database_url,
)

SESSION_MAX_AGE = 8 * 60 * 60


def console_app(db: str, calendar, secret: str, redis_url=None, prefix: str = "jrkf:"):
    """A console process as the scale-out deployment starts it; the processes
    of one deployment share the session key, the database and Redis."""
    settings = Settings(
        console_secret_key=secret,
        console_allowed_origins=[ALLOWED_ORIGIN],
        internal_token=INTERNAL_TOKEN,
        redis_url=redis_url,
        redis_key_prefix=prefix,
    )
    return create_app(
        settings,
        database_url=db,
        calendar=calendar,
        cookie_secure=False,
        clock=lambda: NOW,
        customer_line=RecordingLine(),
        sla_check_seconds=0,
    )


async def _console(app, db: str, aiohttp_server, aiohttp_client) -> Console:
    server = await aiohttp_server(app)
    return Console(app, server, lambda: aiohttp_client(server), db)


@pytest.fixture
async def pair(
    db, calendar, redis_server_url, redis_prefix, aiohttp_server, aiohttp_client  # noqa: F811
) -> Tuple[Console, Console]:
    """Two console processes of one deployment."""
    secret = Fernet.generate_key().decode()
    return tuple(
        [
            await _console(
                console_app(db, calendar, secret, redis_server_url, redis_prefix),
                db,
                aiohttp_server,
                aiohttp_client,
            )
            for _ in range(2)
        ]
    )


# --- helpers ------------------------------------------------------------------------


async def _heard(ws, quiet: float = 0.5) -> List[Dict[str, Any]]:
    """Every event the socket receives until it has been quiet for ``quiet`` seconds."""
    events = []
    while True:
        try:
            events.append(await ws.receive_json(timeout=quiet))
        except asyncio.TimeoutError:
            return events


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _online(client: TestClient) -> Dict[str, bool]:
    response = await client.get("/api/agents")
    assert response.status == 200
    return {agent["username"]: agent["online"] for agent in (await response.json())["agents"]}


def _same_browser(source: TestClient, target: TestClient) -> None:
    """``target`` sends ``source``'s cookies (the load balancer picks another process)."""
    target.session.cookie_jar.update_cookies(
        {morsel.key: morsel.value for morsel in source.session.cookie_jar}
    )
    target.csrf = source.csrf


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- two processes, one Redis -----------------------------------------------------------


async def test_an_event_published_through_one_console_reaches_a_websocket_on_the_other(
    pair, calendar  # noqa: F811
):
    one, two = pair
    number = open_case(one.db, calendar)
    li_on_two = await two.agent("agent1")
    wang_on_one = await one.agent("agent2")
    far = await _connect(li_on_two, two.origin)
    near = await _connect(wang_on_one, one.origin)

    assert (await post(wang_on_one, f"/api/cases/{number}/claim")).status == 200

    assert await _next_of(far, "queue_changed") == {"type": "queue_changed"}
    assert await _next_of(far, "case_changed") == {"type": "case_changed", "number": number}
    # Each socket hears each event once: a process ignores its own events on the channel.
    assert await _heard(near) == [
        {"type": "queue_changed"},
        {"type": "case_changed", "number": number},
    ]
    assert await _heard(far, quiet=0.3) == []
    await far.close()
    await near.close()


async def test_five_failed_logins_through_one_console_lock_the_user_out_on_the_other(
    pair, redis_server_url, redis_prefix  # noqa: F811
):
    one, two = pair
    attacker = await one.client()
    for _ in range(5):
        assert (await login(attacker, "agent1", "not-the-password")).status == 401

    elsewhere = await two.client()
    refused = await login(elsewhere, "agent1", PASSWORD)
    assert refused.status == 429
    assert (await refused.json()) == {"error": "登录失败次数过多，请15分钟后再试"}
    assert (await login(elsewhere, "agent2", PASSWORD)).status == 200  # only that pair

    # One key for the pair, named without the username, gone with the window.
    keys = redis_keys(redis_server_url, f"{redis_prefix}console:login:*")
    assert len(keys) == 1 and "agent1" not in keys[0]
    admin = redis.Redis.from_url(redis_server_url)
    try:
        assert 0 < admin.pttl(keys[0]) <= 15 * 60 * 1000
    finally:
        admin.close()


async def test_a_logout_through_one_console_is_refused_by_the_other(
    pair, redis_server_url, redis_prefix  # noqa: F811
):
    one, two = pair
    li = await one.agent("agent1")
    copy = await two.client()
    _same_browser(li, copy)
    assert (await copy.get("/api/me")).status == 200  # one session, any process
    ws_on_two = await _connect(copy, two.origin)

    assert (await post(li, "/logout")).status == 200

    assert (await copy.get("/api/me")).status == 401
    message = await ws_on_two.receive(timeout=5)  # its websockets close everywhere
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await copy.ws_connect("/ws", headers={"Origin": two.origin})
    assert refused.value.status == 401
    # Remembered until the session's max age, under a key without the session id.
    keys = redis_keys(redis_server_url, f"{redis_prefix}console:revoked:*")
    assert len(keys) == 1
    admin = redis.Redis.from_url(redis_server_url)
    try:
        assert SESSION_MAX_AGE * 1000 - 60_000 < admin.pttl(keys[0]) <= SESSION_MAX_AGE * 1000
    finally:
        admin.close()


async def test_an_agent_connected_to_one_console_is_online_through_the_other(pair):
    one, two = pair
    boss = await two.agent("supervisor")
    assert await _online(boss) == {"agent1": False, "agent2": False, "supervisor": False}

    li_on_one = await one.agent("agent1")
    li_on_two = await two.agent("agent1")
    first_tab = await _connect(li_on_one, one.origin)
    assert await _online(boss) == {"agent1": True, "agent2": False, "supervisor": False}
    assert (await _online(li_on_one))["agent1"] is True

    second_tab = await _connect(li_on_two, two.origin)
    await first_tab.close()
    await asyncio.sleep(0.3)
    assert (await _online(boss))["agent1"] is True  # still open in another tab

    await second_tab.close()
    await _eventually(lambda: _offline(boss, "agent1"))
    assert (await _online(li_on_one))["agent1"] is False


async def _offline(client: TestClient, username: str) -> bool:
    return (await _online(client))[username] is False


async def test_the_subscriber_comes_back_after_losing_redis_and_ignores_junk(
    pair, calendar, redis_server_url, redis_prefix  # noqa: F811
):
    one, two = pair
    channel = f"{redis_prefix}console:events"
    admin = redis.Redis.from_url(redis_server_url, decode_responses=True)
    try:
        # Both processes' subscriptions are cut, as when Redis restarts.
        name = f"{redis_prefix}console"
        subscribers = [c for c in admin.client_list(_type="pubsub") if c.get("name") == name]
        assert len(subscribers) == 2
        for connection in subscribers:
            admin.client_kill_filter(_id=connection["id"])

        async def resubscribed() -> bool:
            return dict(admin.pubsub_numsub(channel)).get(channel) == 2

        await _eventually(resubscribed, timeout=10)
        for junk in ("not json", "[1]", '{"origin": "x", "event": "y"}', '{"event": {}}'):
            admin.publish(channel, junk)
    finally:
        admin.close()

    number = open_case(one.db, calendar)
    far = await _connect(await two.agent("agent1"), two.origin)
    wang = await one.agent("agent2")
    assert (await post(wang, f"/api/cases/{number}/claim")).status == 200
    assert await _heard(far) == [
        {"type": "queue_changed"},
        {"type": "case_changed", "number": number},
    ]
    await far.close()


@pytest.fixture
async def link(redis_server_url, redis_prefix):  # noqa: F811
    """One open Redis client of a console process, under the test's prefix."""
    link = RedisLink(redis_server_url, redis_prefix)
    await link.open()
    yield link
    await link.close()


async def test_the_redis_rate_limiter_follows_the_in_process_rule(link):
    now = [1_000_000.0]
    here = RedisLoginRateLimiter(link, max_failures=2, window=60, clock=lambda: now[0])
    there = RedisLoginRateLimiter(link, max_failures=2, window=60, clock=lambda: now[0])
    key = here.key(" Agent1 ", "10.0.0.1")
    assert await here.attempt(key) is None
    now[0] += 10
    assert await there.attempt(key) is None
    assert await here.attempt(key) == pytest.approx(50)
    assert await there.attempt(key) == pytest.approx(50)  # refusals are not counted
    assert await there.attempt(here.key("agent1", "10.0.0.2")) is None
    now[0] += 51
    assert await there.attempt(key) is None  # the first attempt left the window
    assert await here.attempt(key) == pytest.approx(9)
    await here.succeeded(key)
    assert await there.attempt(key) is None and await here.attempt(key) is None


async def test_redis_revocations_hold_for_every_process_until_they_expire(
    link, redis_server_url, redis_prefix  # noqa: F811
):
    here, there = RedisRevokedSessions(link), RedisRevokedSessions(link)
    await here.revoke("session-1", until=time.time() + 0.5)
    await here.revoke("session-0", until=time.time() - 1)  # already over: nothing stored
    assert await there.is_revoked("session-1")
    assert not await there.is_revoked("session-2") and not await there.is_revoked("session-0")
    keys = redis_keys(redis_server_url, f"{redis_prefix}*")
    assert len(keys) == 1 and "session" not in keys[0]
    await asyncio.sleep(0.7)
    assert not await there.is_revoked("session-1") and not await here.is_revoked("session-1")
    assert redis_keys(redis_server_url, f"{redis_prefix}*") == []


class FakeSocket:
    closed = False

    async def send_str(self, data: str) -> None:
        pass


async def test_presence_of_a_process_that_died_expires(link):
    now = [1_000_000.0]
    hub_a, hub_b = Hub(), Hub()
    a = RedisPresence(link, hub_a, timeout=90, clock=lambda: now[0])
    b = RedisPresence(link, hub_b, timeout=90, clock=lambda: now[0])
    connection = hub_a.register(FakeSocket(), agent_id=7, sid="s")
    await a.joined(connection)
    assert await b.online() == {7}
    now[0] += 60
    await a.refresh()  # the heartbeat of a living process
    now[0] += 60
    assert await b.online() == {7}
    now[0] += 60  # no heartbeat for 120 s: process a is gone
    assert await b.online() == frozenset()
    await b.refresh()  # b has no sockets: nothing written
    assert await a.online() == {7}  # a's own socket, known locally


# --- Redis unreachable, or not configured ----------------------------------------------


async def test_an_unreachable_redis_costs_the_sharing_only(
    db, calendar, aiohttp_server, aiohttp_client, monkeypatch, caplog  # noqa: F811
):
    monkeypatch.setattr(RedisEventBus, "READY_SECONDS", 0.2)
    app = console_app(
        db, calendar, Fernet.generate_key().decode(), f"redis://127.0.0.1:{_free_port()}/0"
    )
    console = await _console(app, db, aiohttp_server, aiohttp_client)
    number = open_case(db, calendar)
    li = await console.agent("agent1")
    wang = await console.agent("agent2")
    ws = await _connect(li, console.origin)

    assert (await post(wang, f"/api/cases/{number}/claim")).status == 200
    assert await _heard(ws) == [
        {"type": "queue_changed"},
        {"type": "case_changed", "number": number},
    ]
    assert (await _online(wang))["agent1"] is True  # this process's sockets

    copy = await console.client()
    _same_browser(wang, copy)
    assert (await post(wang, "/logout")).status == 200
    assert (await copy.get("/api/me")).status == 401  # this process remembers

    attacker = await console.client()
    for _ in range(5):
        assert (await login(attacker, "agent2", "not-the-password")).status == 401
    assert (await login(attacker, "agent2", PASSWORD)).status == 429
    await ws.close()
    assert "Redis unreachable" in caplog.text


async def test_without_redis_everything_stays_in_process(
    db, calendar, aiohttp_server, aiohttp_client  # noqa: F811
):
    app = console_app(db, calendar, Fernet.generate_key().decode(), redis_url=None)
    assert type(app[LOGIN_LIMITER]) is LoginRateLimiter
    assert type(app[REVOKED_SESSIONS]) is RevokedSessions
    assert type(app[PRESENCE]) is LocalPresence and app[HUB].bus is None
    console = await _console(app, db, aiohttp_server, aiohttp_client)

    boss = await console.agent("supervisor")
    li = await console.agent("agent1")
    assert await _online(boss) == {"agent1": False, "agent2": False, "supervisor": False}
    ws = await _connect(li, console.origin)
    assert await _online(boss) == {"agent1": True, "agent2": False, "supervisor": False}
    await ws.close()
    await _eventually(lambda: _offline(boss, "agent1"))
