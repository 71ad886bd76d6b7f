"""One access token for all workers.

The token comes from WeChat's stable_token endpoint (fetched by
``bot.channels.wechat_api``), is cached in the channel's store (Redis when
configured) until shortly before it expires, and only one worker refreshes
it at a time (a lock key with SET NX; in process, an asyncio lock). A token
WeChat rejects is dropped only if it is still the cached one, so a stampede
of rejections costs one refresh.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from typing import Awaitable, Callable, Optional, Tuple

Fetch = Callable[[], Awaitable[Tuple[str, int]]]


class TokenUnavailable(Exception):
    """No access token could be had (another worker's refresh did not finish)."""


class AccessTokenCache:
    def __init__(
        self,
        store,
        fetch: Fetch,
        prefix: str = "wechat:",
        refresh_margin: float = 300.0,
        lock_ttl: float = 15.0,
    ) -> None:
        self._store = store
        self._fetch = fetch
        self._key = f"{prefix}access_token"
        self._lock_key = f"{prefix}access_token:lock"
        self.refresh_margin = refresh_margin
        self.lock_ttl = lock_ttl
        self._local_lock: Optional[asyncio.Lock] = None

    async def get(self) -> str:
        token = await self._store.get(self._key)
        if token:
            return token
        if self._local_lock is None:
            self._local_lock = asyncio.Lock()
        async with self._local_lock:  # one refresh per worker ...
            return await self._refresh()

    async def invalidate(self, stale: str) -> None:
        """WeChat rejected ``stale``: forget it unless it was replaced already."""
        await self._store.compare_and_delete(self._key, stale)

    async def _refresh(self) -> str:
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + self.lock_ttl
        while True:
            token = await self._store.get(self._key)
            if token:
                return token
            if await self._store.set_nx(self._lock_key, owner, self.lock_ttl):  # ... and per deployment
                try:
                    token = await self._store.get(self._key)
                    if token:
                        return token
                    token, expires_in = await self._fetch()
                    await self._store.set(self._key, token, self._cache_for(expires_in))
                    return token
                finally:
                    await self._store.compare_and_delete(self._lock_key, owner)
            if time.monotonic() > deadline:
                raise TokenUnavailable("another worker's token refresh did not finish")
            await asyncio.sleep(0.05)

    def _cache_for(self, expires_in: int) -> float:
        """Refresh before WeChat's expiry: 5 minutes early (a fifth early for short lives)."""
        return max(1.0, expires_in - min(self.refresh_margin, expires_in / 5))
