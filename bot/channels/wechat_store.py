"""A small key-value store with expiry, shared by the WeChat channel's caches
(message de-duplication, pending numbered choices, the access token).

``RedisStore`` when ``BOT_REDIS_URL`` is set (all workers share it);
``MemoryStore`` otherwise (one process). Both are created without I/O: Redis
is connected on first use, inside the server's event loop.
"""
from __future__ import annotations

import logging
import time
from typing import Dict, Optional, Tuple

logger = logging.getLogger(__name__)


class StoreError(Exception):
    """The shared store could not be reached."""


class MemoryStore:
    """An in-process dict whose entries expire (checked on access, swept now and then)."""

    SWEEP_EVERY = 30.0

    def __init__(self) -> None:
        self._data: Dict[str, Tuple[str, float]] = {}
        self._last_sweep = time.monotonic()

    def _live(self, key: str) -> Optional[str]:
        entry = self._data.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at <= time.monotonic():
            del self._data[key]
            return None
        return value

    def _put(self, key: str, value: str, ttl: float) -> None:
        now = time.monotonic()
        if now - self._last_sweep > self.SWEEP_EVERY:
            self._data = {k: e for k, e in self._data.items() if e[1] > now}
            self._last_sweep = now
        self._data[key] = (value, now + ttl)

    async def get(self, key: str) -> Optional[str]:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    async def set_nx(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._put(key, value, ttl)
        return True

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def compare_and_set(self, key: str, expected: str, value: str, ttl: float) -> bool:
        if self._live(key) != expected:
            return False
        self._put(key, value, ttl)
        return True

    async def compare_and_delete(self, key: str, expected: str) -> bool:
        if self._live(key) != expected:
            return False
        del self._data[key]
        return True

    async def close(self) -> None:
        self._data.clear()


_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStore:
    """The same operations on Redis (SET NX PX; Lua for compare-and-set)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client = None

    def _redis(self):
        if self._client is None:
            import redis.asyncio as redis_asyncio

            self._client = redis_asyncio.from_url(
                self._url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2
            )
        return self._client

    async def _call(self, method: str, *args, **kwargs):
        from redis.exceptions import RedisError

        try:
            return await getattr(self._redis(), method)(*args, **kwargs)
        except (RedisError, OSError) as error:
            raise StoreError(type(error).__name__) from None

    async def get(self, key: str) -> Optional[str]:
        return await self._call("get", key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._call("set", key, value, px=_ms(ttl))

    async def set_nx(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._call("set", key, value, px=_ms(ttl), nx=True))

    async def delete(self, key: str) -> None:
        await self._call("delete", key)

    async def compare_and_set(self, key: str, expected: str, value: str, ttl: float) -> bool:
        return bool(await self._call("eval", _COMPARE_AND_SET, 1, key, expected, value, _ms(ttl)))

    async def compare_and_delete(self, key: str, expected: str) -> bool:
        return bool(await self._call("eval", _COMPARE_AND_DELETE, 1, key, expected))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class FallbackStore:
    """Redis, falling back to this worker's memory while Redis is unreachable
    (customers keep being answered; only cross-worker sharing is lost)."""

    WARN_EVERY = 60.0

    def __init__(self, primary) -> None:
        self.primary = primary
        self.fallback = MemoryStore()
        self._warned_at = float("-inf")

    def __getattr__(self, method: str):
        if method not in {"get", "set", "set_nx", "delete", "compare_and_set", "compare_and_delete"}:
            raise AttributeError(method)

        async def call(*args):
            try:
                return await getattr(self.primary, method)(*args)
            except StoreError as error:
                if time.monotonic() - self._warned_at > self.WARN_EVERY:
                    self._warned_at = time.monotonic()
                    logger.warning("shared store unreachable (%s): using this worker's memory", error)
                return await getattr(self.fallback, method)(*args)

        return call

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()


def make_store(redis_url: Optional[str]):
    """The channel's store: Redis (with a memory fallback) when configured."""
    return FallbackStore(RedisStore(redis_url)) if redis_url else MemoryStore()
