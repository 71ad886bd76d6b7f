"""The console's websocket: who may connect, and that agents hear of changes."""
from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.console.context import HUB
from bot.console.hub import Hub
from console_ws_helpers import connect as _connect, next_of as _next_of
from test_console_fixtures import (  # noqa: F401  (fixtures are found by name)
    ALLOWED_ORIGIN,
    Console,
    calendar,
    console,
    database_url,
    db,
    fast_seeding,
    open_case,
    post,
    postgres_database_url,
)


async def _wait_until(condition, timeout: float = 5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "origin", [None, "null", "http://evil.example", "http://127.0.0.1.evil.example"]
)
async def test_a_foreign_origin_is_refused_before_the_upgrade(console: Console, origin):
    client = await console.agent("agent1")
    headers = {"Origin": origin} if origin else {}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers=headers)
    assert refused.value.status == 403
    assert len(console.app[HUB]) == 0


async def test_without_login_the_websocket_is_refused(console: Console):
    client = await console.client()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers={"Origin": console.origin})
    assert refused.value.status == 401


async def test_the_console_itself_and_configured_origins_may_connect(console: Console):
    client = await console.agent("agent1")
    own = await _connect(client, console.origin)
    configured = await _connect(client, ALLOWED_ORIGIN)
    assert len(console.app[HUB]) == 2
    await own.send_str("ping")
    assert await own.receive_json(timeout=5) == {"type": "pong"}
    await own.close()
    await configured.close()
    await _wait_until(lambda: len(console.app[HUB]) == 0)


async def test_a_connected_agent_hears_when_a_colleague_claims(console: Console, calendar):
    number = open_case(console.db, calendar)
    li = await console.agent("agent1")
    wang = await console.agent("agent2")
    ws = await _connect(li, console.origin)

    assert (await post(wang, f"/api/cases/{number}/claim")).status == 200

    assert await _next_of(ws, "queue_changed") == {"type": "queue_changed"}
    assert await _next_of(ws, "case_changed") == {"type": "case_changed", "number": number}
    await ws.close()


async def test_a_failed_change_tells_nobody(console: Console, calendar):
    number = open_case(console.db, calendar)
    li = await console.agent("agent1")
    ws = await _connect(li, console.origin)
    assert (await post(li, f"/api/cases/{number}/close", {"resolution_note": "x"})).status == 403
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive_json(timeout=0.3)
    await ws.close()


async def test_disconnects_are_cleaned_up_and_publishing_goes_on(console: Console, calendar):
    number = open_case(console.db, calendar)
    li = await console.agent("agent1")
    wang = await console.agent("agent2")
    gone = await _connect(li, console.origin)
    staying = await _connect(wang, console.origin)
    await gone.close()
    await _wait_until(lambda: len(console.app[HUB]) == 1)

    assert (await post(wang, f"/api/cases/{number}/claim")).status == 200

    assert await _next_of(staying, "queue_changed") == {"type": "queue_changed"}
    await staying.close()
    await _wait_until(lambda: len(console.app[HUB]) == 0)


class FakeSocket:
    def __init__(self, fails: bool = False):
        self.fails = fails
        self.closed = False
        self.sent = []

    async def send_str(self, data: str) -> None:
        if self.fails:
            raise ConnectionResetError("Cannot write to closing transport")
        self.sent.append(data)

    async def close(self, **_options) -> None:
        self.closed = True


async def test_the_hub_drops_a_socket_that_fails_and_closes_sessions():
    hub = Hub()
    healthy, broken, other_session = FakeSocket(), FakeSocket(fails=True), FakeSocket()
    hub.register(healthy, agent_id=1, sid="s1")
    hub.register(broken, agent_id=2, sid="s2")
    hub.register(other_session, agent_id=1, sid="s3")

    await hub.publish("case_changed", number="AJ202611270001")

    assert len(hub) == 2
    assert healthy.sent == ['{"type": "case_changed", "number": "AJ202611270001"}']
    await hub.close_session("s1")
    assert healthy.closed and not other_session.closed and len(hub) == 1
    await hub.close_all()
    assert other_session.closed and len(hub) == 0


async def test_logging_out_closes_that_sessions_websocket(console: Console):
    li = await console.agent("agent1")
    ws = await _connect(li, console.origin)
    assert (await post(li, "/logout")).status == 200
    message = await ws.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await _wait_until(lambda: len(console.app[HUB]) == 0)
