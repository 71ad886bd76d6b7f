"""Rasa's socket.io channel, able to run on several Rasa replicas.

Rasa's own channel keeps its socket.io rooms in the process: a message for a
customer (a bot answer, or an agent's line appended through Rasa's HTTP API)
reaches them only from the replica that holds their socket. With
``BOT_REDIS_URL`` set, this channel gives the socket.io server
python-socketio's ``AsyncRedisManager`` instead: every emit is published in
Redis and delivered by whichever replica holds the room. Unset, it is
exactly Rasa's channel. The name stays ``socketio``, so credentials,
trackers and ``output_channel=latest`` are unchanged.

The manager pickles messages over Redis, as python-socketio does: that
Redis must be the deployment's own, reachable by nobody else.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from bot.settings import get_settings


class ReplicatedSocketIOInput(SocketIOInput):
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        settings = get_settings()
        if settings.redis_url:
            import socketio

            # Rasa builds its AsyncServer with the in-process manager and no
            # way to pass another: swap it before the first connection, when
            # the server initialises whichever manager it holds.
            manager = socketio.AsyncRedisManager(
                settings.redis_url, channel=f"{settings.redis_key_prefix}socketio"
            )
            manager.set_server(self.sio)
            self.sio.manager = manager
            self.sio.manager_initialized = False
        return blueprint
