"""Presence: which agents have the console open right now (a websocket connected).

The websocket handler tells presence when a socket joins and leaves; the
agents' list (``GET /api/agents``) asks who is ``online``. In one process
the hub's own connections are the answer (``LocalPresence``); with several
processes, ``shared_state.RedisPresence`` keeps them in Redis.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, FrozenSet, Protocol

if TYPE_CHECKING:  # pragma: no cover  (bot.console.hub imports the context, not this)
    from bot.console.hub import Connection, Hub


class Presence(Protocol):
    async def joined(self, connection: "Connection") -> None:
        ...

    async def left(self, connection: "Connection") -> None:
        ...

    async def online(self) -> FrozenSet[int]:
        """The ids of the agents with at least one live console websocket."""
        ...


class LocalPresence:
    """This process's websockets are all there is: the hub knows them."""

    def __init__(self, hub: "Hub") -> None:
        self._hub = hub

    async def joined(self, connection: "Connection") -> None:
        pass

    async def left(self, connection: "Connection") -> None:
        pass

    async def online(self) -> FrozenSet[int]:
        return self._hub.agent_ids()
