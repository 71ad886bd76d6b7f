"""The websocket: agents' browsers are told when the queue or a case changed.

Events carry no content, only what changed (``{"type": "queue_changed"}``,
``{"type": "case_changed", "number": ...}``): each browser then re-reads
through the API, where the repositories decide what this agent may see.

``Hub.publish`` sends an event to this process's own sockets at once and,
with several console processes (``BOT_REDIS_URL`` set), hands it to an
``EventBus``: ``shared_state.RedisEventBus`` PUBLISHes it on a Redis
channel, and every process relays what it hears from the others to its own
sockets (``Hub.deliver``); a logout closes the session's sockets on every
process the same way. Without Redis the hub is in-process, like
aiohttp's ``chat`` demo. Browsers also refresh the queue every 30 seconds,
which covers an event lost while Redis was unreachable.

The websocket handler also tells presence (``bot.console.presence``) when
an agent's socket joins and leaves.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, FrozenSet, List, Optional, Protocol, Set

from aiohttp import WSCloseCode, WSMsgType, web

from bot.console.auth import require_identity
from bot.console.context import CONFIG, HUB, PRESENCE, run_as_agent
from bot.console.errors import ApiError
from bot.console.security import origin_allowed

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 25.0
SEND_TIMEOUT_SECONDS = 5.0
QUEUE_CHANGED = "queue_changed"
CASE_CHANGED = "case_changed"


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    agent_id: int
    sid: str
    closing: bool = field(default=False)
    # Tells this socket from the agent's others (other tabs, other processes).
    key: str = field(default_factory=lambda: secrets.token_hex(8))


class EventBus(Protocol):
    """The other console processes' hubs (``shared_state.RedisEventBus``).
    Its methods never raise: an unreachable bus is logged, not a failure."""

    async def publish(self, payload: str) -> None:
        """Have the other processes deliver ``payload`` to their sockets."""
        ...

    async def close_session(self, sid: str) -> None:
        """Have the other processes close the sockets of session ``sid``."""
        ...


class Hub:
    def __init__(self, bus: Optional[EventBus] = None) -> None:
        self._connections: Set[Connection] = set()
        self.bus = bus

    def __len__(self) -> int:
        return len(self._connections)

    def register(self, ws: web.WebSocketResponse, agent_id: int, sid: str) -> Connection:
        connection = Connection(ws, agent_id, sid)
        self._connections.add(connection)
        return connection

    def unregister(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def live(self) -> List[Connection]:
        """This process's sockets that are neither closing nor closed."""
        return [c for c in self._connections if not c.closing and not c.ws.closed]

    def agent_ids(self) -> FrozenSet[int]:
        """The agents with a live socket on this process."""
        return frozenset(c.agent_id for c in self.live())

    async def publish(self, event_type: str, **data: Any) -> None:
        """Send the event to every connected agent, here and (with a bus) on
        the other console processes."""
        payload = json.dumps({"type": event_type, **data}, ensure_ascii=False)
        await self.deliver(payload)
        if self.bus is not None:
            await self.bus.publish(payload)

    async def deliver(self, payload: str) -> None:
        """Send ``payload`` to this process's sockets; a socket that fails is dropped."""
        connections = self.live()
        results = await asyncio.gather(
            *(self._send(connection, payload) for connection in connections),
            return_exceptions=True,
        )
        for connection, result in zip(connections, results):
            if isinstance(result, Exception):
                logger.info("dropping a console websocket: %r", result)
                self.unregister(connection)

    async def close_session(self, sid: str) -> None:
        """Close the sockets of a session that logged out, here and (with a
        bus) on the other console processes."""
        await self.close_local_session(sid)
        if self.bus is not None:
            await self.bus.close_session(sid)

    async def close_local_session(self, sid: str) -> None:
        await self._close([c for c in self._connections if c.sid == sid], WSCloseCode.OK)

    async def close_all(self) -> None:
        await self._close(list(self._connections), WSCloseCode.GOING_AWAY)

    async def _close(self, connections, code: int) -> None:
        for connection in connections:
            connection.closing = True
            self.unregister(connection)
        await asyncio.gather(
            *(c.ws.close(code=code, message=b"bye") for c in connections),
            return_exceptions=True,
        )

    @staticmethod
    async def _send(connection: Connection, payload: str) -> None:
        await asyncio.wait_for(connection.ws.send_str(payload), SEND_TIMEOUT_SECONDS)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """GET /ws: refused before the upgrade for a foreign Origin (403) and
    without a logged-in, active agent (401)."""
    if not origin_allowed(request, request.app[CONFIG].allowed_origins):
        raise ApiError(403, "不允许的来源")
    identity = await require_identity(request)
    await run_as_agent(request, lambda session, agent: None)

    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=4096)
    await ws.prepare(request)
    hub, presence = request.app[HUB], request.app[PRESENCE]
    connection = hub.register(ws, identity.agent_id, identity.sid)
    try:
        await presence.joined(connection)
        await ws.send_str(json.dumps({"type": "hello"}))
        async for message in ws:
            if message.type is WSMsgType.TEXT and message.data == "ping":
                await ws.send_str(json.dumps({"type": "pong"}))
            elif message.type is WSMsgType.ERROR:
                logger.info("console websocket error: %r", ws.exception())
                break
            # Anything else from the browser is ignored: changes go through the API.
    except (ConnectionResetError, asyncio.TimeoutError) as error:
        logger.info("console websocket lost: %r", error)
    finally:
        hub.unregister(connection)
        await presence.left(connection)
        if not ws.closed:
            await ws.close()
    return ws
