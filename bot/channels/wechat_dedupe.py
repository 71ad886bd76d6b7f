"""WeChat delivers a callback again when it has no answer within 5 s (up to 3
retries). Each message is handled once, across workers:

``claim`` (SET NX) makes the first delivery the owner, in state ``pending``.
The owner ends in ``passive`` (answered in the HTTP reply; the reply text is
kept briefly so that a retry, which means WeChat never got that reply, gets
the same one) or ``pushed`` (answered through the customer-service message
API). A retry that finds ``pending`` turns it into ``retried`` and is
acknowledged with "success"; the owner then cannot answer passively (its
compare-and-set fails) and pushes instead. So no interleaving gives two bot
turns, and none loses or doubles the answer.

Keys hold message ids and hashes only: no OpenID or text.
"""
from __future__ import annotations

import hashlib
from typing import Optional

PENDING, RETRIED, PASSIVE, PUSHED = "pending", "retried", "passive", "pushed"


def delivery_key(msg_id: Optional[str], sender: str, create_time: Optional[str]) -> str:
    """WeChat's advice: MsgId for messages, FromUserName + CreateTime for events."""
    if msg_id and msg_id.strip() not in ("", "0"):
        return f"msg:{msg_id.strip()}"
    digest = hashlib.sha256(f"{sender}:{create_time or ''}".encode("utf-8")).hexdigest()[:32]
    return f"evt:{digest}"


class Deduplicator:
    def __init__(self, store, prefix: str = "wechat:", ttl: float = 300.0, reply_ttl: float = 30.0) -> None:
        self._store = store
        self._prefix = prefix
        self.ttl = ttl  # longer than WeChat's retries (3 x 5 s) by far
        self.reply_ttl = reply_ttl  # a passive reply's text is kept this long only

    def _state(self, key: str) -> str:
        return f"{self._prefix}dedupe:{key}"

    def _reply(self, key: str) -> str:
        return f"{self._prefix}reply:{key}"

    async def claim(self, key: str) -> bool:
        """True for the first delivery of this message, False for a retry."""
        return await self._store.set_nx(self._state(key), PENDING, self.ttl)

    async def duplicate(self, key: str) -> Optional[str]:
        """A retry's answer: the owner's passive reply if it gave one, else None ("success")."""
        state = await self._store.get(self._state(key))
        if state == PENDING:
            if await self._store.compare_and_set(self._state(key), PENDING, RETRIED, self.ttl):
                return None
            state = await self._store.get(self._state(key))  # the owner has just finished
        if state == PASSIVE:
            return await self._store.get(self._reply(key))
        return None

    async def answer_passively(self, key: str, reply: str) -> bool:
        """Whether the owner may answer in its HTTP reply (no retry came meanwhile)."""
        await self._store.set(self._reply(key), reply, self.reply_ttl)
        if await self._store.compare_and_set(self._state(key), PENDING, PASSIVE, self.ttl):
            return True
        await self._store.delete(self._reply(key))
        return False

    async def pushed(self, key: str) -> None:
        """The owner answers (or answered) through the message API."""
        await self._store.set(self._state(key), PUSHED, self.ttl)
