"""The console's state shared by all its processes, in Redis.

With ``BOT_REDIS_URL`` set (the scale-out deployment: several console
processes behind a load balancer), ``install_state`` gives the app:

- ``RedisEventBus``: ``Hub.publish`` also PUBLISHes on the channel
  ``<prefix>console:events``; every process subscribes (``relay_to``) and
  relays what the others published to its own websockets (a logout closes
  the session's websockets on every process the same way);
- ``RedisLoginRateLimiter``: a sorted set of attempt times per username+IP
  (``<prefix>console:login:<hash>``), trimmed to the window and expiring
  with it;
- ``RedisRevokedSessions``: ``<prefix>console:revoked:<hash>`` until the
  session's max age;
- ``RedisPresence``: a sorted set ``<prefix>console:presence`` of live
  websockets (``<agent id>:<socket key>``) scored by their last heartbeat.

Unset, all of it stays in process, as before (``security``, ``presence``,
an in-process ``Hub``). As in ``bot.channels.wechat_store``, every key and
channel starts with ``BOT_REDIS_KEY_PREFIX``, and while Redis is unreachable
each falls back to this process (logged, at most once a minute): no request
fails for it. One Redis client per app (``RedisLink``), opened on startup
and closed on cleanup; nothing connects at import or in ``create_app``.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import random
import re
import secrets
import time
from typing import Any, AsyncIterator, Callable, Dict, FrozenSet, Optional, Tuple

from aiohttp import web

from bot.console.context import HUB, LOGIN_LIMITER, PRESENCE, REVOKED_SESSIONS
from bot.console.hub import Connection, Hub
from bot.console.presence import LocalPresence
from bot.console.security import LoginRateLimiter, RevokedSessions
from bot.settings import Settings

logger = logging.getLogger(__name__)

# Each process re-scores its live websockets this often; a socket not
# re-scored for PRESENCE_TIMEOUT_SECONDS (its process died) is offline.
PRESENCE_REFRESH_SECONDS = 30.0
PRESENCE_TIMEOUT_SECONDS = 90.0


def install_state(
    app: web.Application, settings: Settings, *, login_limiter: Optional[LoginRateLimiter] = None
) -> None:
    """Put the hub, presence, the login rate limit and the revoked sessions
    on ``app``: shared through Redis when ``settings.redis_url`` is set, else
    in this process. ``login_limiter``: use this one (tests)."""
    if not settings.redis_url:
        hub = Hub()
        app[HUB] = hub
        app[PRESENCE] = LocalPresence(hub)
        app[LOGIN_LIMITER] = login_limiter or LoginRateLimiter()
        app[REVOKED_SESSIONS] = RevokedSessions()
        return
    link = RedisLink(settings.redis_url, settings.redis_key_prefix)
    bus = RedisEventBus(link)
    hub = Hub(bus)
    presence = RedisPresence(link, hub)
    app[HUB] = hub
    app[PRESENCE] = presence
    app[LOGIN_LIMITER] = login_limiter or RedisLoginRateLimiter(link)
    app[REVOKED_SESSIONS] = RedisRevokedSessions(link)
    # Started in this order, stopped in reverse: the client outlives its users.
    app.cleanup_ctx.append(link.lifetime)
    app.cleanup_ctx.append(bus.relay_to(hub))
    app.cleanup_ctx.append(presence.heartbeat(PRESENCE_REFRESH_SECONDS))


def unreachable_errors() -> Tuple[type, ...]:
    """What a Redis call raises when Redis cannot be reached (or the client is closed)."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, asyncio.TimeoutError)


def _digest(*parts: str) -> str:
    """Keys carry no username, address or session id in clear."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class RedisLink:
    """The app's one Redis client: opened on startup and closed on cleanup
    (``lifetime``, an aiohttp cleanup context). Its users catch
    ``unreachable_errors()``, fall back, and report with ``unreachable``."""

    WARN_EVERY = 60.0

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        # Names this app's connections in CLIENT LIST (no spaces allowed there).
        self.client_name = re.sub(r"\s", "_", f"{prefix}console")
        self._client = None
        self._warned_at: Dict[str, float] = {}

    def key(self, *parts: str) -> str:
        return ":".join((f"{self.prefix}console", *parts))

    @property
    def client(self):
        if self._client is None:
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RedisConnectionError("the console's Redis client is not open")
        return self._client

    async def open(self) -> None:
        import redis.asyncio as redis_asyncio

        self._client = redis_asyncio.from_url(
            self.url,
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
            client_name=self.client_name,
        )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        await self.open()
        try:
            yield
        finally:
            await self.close()

    def unreachable(self, meanwhile: str, error: BaseException) -> None:
        """Log an outage and what it costs (``meanwhile``): a warning once a
        minute for each kind of cost, else at debug level."""
        now = time.monotonic()
        log = logger.debug
        if now - self._warned_at.get(meanwhile, float("-inf")) > self.WARN_EVERY:
            self._warned_at[meanwhile] = now
            log = logger.warning
        log("Redis unreachable (%s: %s): %s", type(error).__name__, error, meanwhile)


# --- the hub's events ---------------------------------------------------------------


class RedisEventBus:
    """Hub events between console processes, over one pub/sub channel. A
    message names the process it came from (``origin``): that process has
    delivered it to its own sockets already and ignores it."""

    RETRY_FIRST = 0.5
    RETRY_MAX = 30.0
    # How long startup waits for the first subscription (Redis may be down).
    READY_SECONDS = 2.0
    # Each read waits this long, so health checks (PING) run on a quiet channel.
    READ_SECONDS = 1.0

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self.channel = link.key("events")
        self.origin = secrets.token_hex(8)
        self.subscribed = asyncio.Event()

    async def publish(self, payload: str) -> None:
        """``payload``: the event as JSON (``Hub.publish``). Never raises."""
        await self._send(f'{{"origin": "{self.origin}", "event": {payload}}}')

    async def close_session(self, sid: str) -> None:
        """A logout: the session's sockets on other processes close. Never raises."""
        await self._send(json.dumps({"origin": self.origin, "closed_session": _digest(sid)}))

    async def _send(self, message: str) -> None:
        try:
            await self._link.client.publish(self.channel, message)
        except unreachable_errors() as error:
            self._link.unreachable("other console processes are not told", error)

    def relay_to(self, hub: Hub) -> Callable[[web.Application], AsyncIterator[None]]:
        """An aiohttp cleanup context: this process's subscriber, relaying
        the other processes' events to ``hub``'s sockets for the app's life."""

        async def run(app: web.Application) -> AsyncIterator[None]:
            async with running(self._relay(hub)):
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.subscribed.wait(), self.READY_SECONDS)
                yield

        return run

    async def _relay(self, hub: Hub) -> None:
        """Subscribe and relay; on any failure, subscribe again after a back-off."""
        delay = self.RETRY_FIRST
        while True:
            pubsub = None
            try:
                pubsub = self._link.client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                delay = self.RETRY_FIRST
                logger.info("relaying console events from Redis channel %s", self.channel)
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self.READ_SECONDS
                    )
                    if message is not None and message.get("type") == "message":
                        await self._deliver(hub, message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # nothing may stop the relay, or the app
                self.subscribed.clear()
                self._link.unreachable("other consoles' events are missed until it is back", error)
                logger.debug("subscribing to %s again in %.1fs", self.channel, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.RETRY_MAX)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.close()

    async def _deliver(self, hub: Hub, data: Any) -> None:
        """What another process published: an event for the sockets, or a logout."""
        try:
            message = json.loads(data)
            origin = message["origin"]
        except (TypeError, ValueError, KeyError):
            logger.info("ignoring a malformed message on %s", self.channel)
            return
        if origin == self.origin:
            return  # this process's own: delivered already
        event, closed = message.get("event"), message.get("closed_session")
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            await hub.deliver(json.dumps(event, ensure_ascii=False))
        elif isinstance(closed, str):
            for sid in {c.sid for c in hub.live() if _digest(c.sid) == closed}:
                await hub.close_local_session(sid)


# --- logins and sessions ------------------------------------------------------------

# KEYS[1]: the pair's attempts (a sorted set of Unix times);
# ARGV: now, window (seconds), max failures, a unique member for this attempt.
# Nil: go ahead (counted); else the seconds until the oldest attempt leaves the window.
_ATTEMPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return false
"""


class RedisLoginRateLimiter(LoginRateLimiter):
    """``LoginRateLimiter``'s rule, held in Redis so that a lock-out holds
    on every console process: the attempts of a username+IP pair in a sorted
    set, counted before the password check (one Lua script, so concurrent
    attempts on several processes cannot slip past the limit), older ones
    trimmed, the key expiring a window after the last attempt. While Redis
    is unreachable, this process's memory (the parent class) counts."""

    def __init__(
        self,
        link: RedisLink,
        max_failures: int = 5,
        window: float = 15 * 60,
        *,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(max_failures, window)
        self._link = link
        self._now = clock  # Unix time: the processes share it

    def redis_key(self, key: Tuple[str, str]) -> str:
        return self._link.key("login", _digest(*key))

    async def attempt(self, key: Tuple[str, str]) -> Optional[float]:
        now = self._now()
        member = f"{now!r}:{secrets.token_hex(4)}"
        try:
            wait = await self._link.client.eval(
                _ATTEMPT, 1, self.redis_key(key), repr(now), repr(float(self.window)),
                self.max_failures, member,
            )
        except unreachable_errors() as error:
            self._link.unreachable("login attempts are counted by this process only", error)
            return await super().attempt(key)
        return None if wait is None else max(1.0, float(wait))

    async def succeeded(self, key: Tuple[str, str]) -> None:
        await super().succeeded(key)
        try:
            await self._link.client.delete(self.redis_key(key))
        except unreachable_errors() as error:
            self._link.unreachable("a login's earlier failures stay counted", error)


class RedisRevokedSessions(RevokedSessions):
    """Logged-out session ids, remembered in Redis until the session's max
    age (the key's TTL), so the old cookie is refused by every process. This
    process also remembers its own logouts (the parent class), which is all
    there is while Redis is unreachable."""

    def __init__(self, link: RedisLink, clock: Callable[[], float] = time.time):
        super().__init__(clock)
        self._link = link

    def redis_key(self, sid: str) -> str:
        return self._link.key("revoked", _digest(sid))

    async def revoke(self, sid: str, until: float) -> None:
        await super().revoke(sid, until)
        ttl = until - self._clock()
        if ttl <= 0:
            return
        try:
            await self._link.client.set(self.redis_key(sid), "1", px=max(1, math.ceil(ttl * 1000)))
        except unreachable_errors() as error:
            self._link.unreachable("a logout is known to this process only", error)

    async def is_revoked(self, sid: str) -> bool:
        if await super().is_revoked(sid):
            return True
        try:
            return bool(await self._link.client.exists(self.redis_key(sid)))
        except unreachable_errors() as error:
            self._link.unreachable("only this process's logouts are checked", error)
            return False


# --- presence ------------------------------------------------------------------------


class RedisPresence:
    """Live console websockets of every process: a sorted set of
    ``<agent id>:<socket key>`` scored by their last heartbeat (Unix time).
    A socket is added when it opens and removed when it closes; each process
    re-scores its own every ``PRESENCE_REFRESH_SECONDS`` (``heartbeat``), so
    the sockets of a process that died go offline after ``timeout``. One
    member per socket: an agent with two tabs stays online when one closes."""

    def __init__(
        self,
        link: RedisLink,
        hub: Hub,
        *,
        timeout: float = PRESENCE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        self._link = link
        self._hub = hub
        self.timeout = timeout
        self._now = clock
        self.key = link.key("presence")

    @staticmethod
    def member(connection: Connection) -> str:
        return f"{connection.agent_id}:{connection.key}"

    async def joined(self, connection: Connection) -> None:
        await self._score({self.member(connection): self._now()})

    async def left(self, connection: Connection) -> None:
        try:
            await self._link.client.zrem(self.key, self.member(connection))
        except unreachable_errors() as error:
            self._link.unreachable(f"presence expires after {self.timeout:.0f}s", error)

    async def refresh(self) -> None:
        now = self._now()
        scores = {self.member(connection): now for connection in self._hub.live()}
        if scores:
            await self._score(scores)

    async def online(self) -> FrozenSet[int]:
        local = self._hub.agent_ids()
        try:
            members = await self._link.client.zrangebyscore(
                self.key, self._now() - self.timeout, "+inf"
            )
        except unreachable_errors() as error:
            self._link.unreachable("presence shows this process's websockets only", error)
            return local
        agent_ids = {int(m.split(":", 1)[0]) for m in members if m.split(":", 1)[0].isdigit()}
        # A socket that joined while Redis was unreachable is still online here.
        return frozenset(agent_ids) | local

    async def _score(self, scores: Dict[str, float]) -> None:
        """Add or re-score members; forget the stale; the set expires when nobody refreshes."""
        now = self._now()
        try:
            async with self._link.client.pipeline(transaction=True) as pipe:
                pipe.zadd(self.key, scores)
                pipe.zremrangebyscore(self.key, "-inf", now - self.timeout)
                pipe.expire(self.key, math.ceil(self.timeout))
                await pipe.execute()
        except unreachable_errors() as error:
            self._link.unreachable("presence shows this process's websockets only", error)

    def heartbeat(self, interval: float) -> Callable[[web.Application], AsyncIterator[None]]:
        """An aiohttp cleanup context re-scoring this process's sockets every ``interval``."""

        async def run(app: web.Application) -> AsyncIterator[None]:
            async def loop() -> None:
                while True:
                    await asyncio.sleep(interval)
                    try:
                        await self.refresh()
                    except Exception:  # the heartbeat must not stop
                        logger.exception("console presence refresh failed")

            async with running(loop()):
                yield

        return run


@contextlib.asynccontextmanager
async def running(coroutine) -> AsyncIterator[None]:
    """Run ``coroutine`` as a task while the block runs; cancel it after."""
    task = asyncio.get_running_loop().create_task(coroutine)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
