"""Numbered choices: WeChat text has no buttons, so a message's buttons are
listed as "1. …", "2. …" and a customer who answers with a number sends that
button's payload. The list shown last is kept per OpenID (hashed in the key)
with a TTL, in the channel's shared store."""
from __future__ import annotations

import hashlib
import json
import re
from typing import List, Optional

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．", "0123456789.")
_NUMBER = re.compile(r"(\d{1,2})[.、。)）]?")


def chosen_number(text: str) -> Optional[int]:
    """The number a reply such as "2", "２" or "2." stands for, else None."""
    match = _NUMBER.fullmatch((text or "").strip().translate(_FULL_WIDTH))
    return int(match.group(1)) if match else None


class ChoiceStore:
    def __init__(self, store, prefix: str = "wechat:", ttl: float = 3600.0) -> None:
        self._store = store
        self._prefix = prefix
        self.ttl = ttl

    def _key(self, openid: str) -> str:
        return f"{self._prefix}choices:{hashlib.sha256(openid.encode('utf-8')).hexdigest()[:32]}"

    async def save(self, openid: str, payloads: List[str]) -> None:
        """The payloads of the list just shown (an empty list forgets it)."""
        if payloads:
            await self._store.set(self._key(openid), json.dumps(payloads, ensure_ascii=False), self.ttl)
        else:
            await self._store.delete(self._key(openid))

    async def resolve(self, openid: str, text: str) -> Optional[str]:
        """The payload ``text`` picks from the list shown last, if it picks one."""
        number = chosen_number(text)
        if number is None:
            return None
        raw = await self._store.get(self._key(openid))
        try:
            payloads = json.loads(raw) if raw else []
        except ValueError:
            return None
        if 1 <= number <= len(payloads) and isinstance(payloads[number - 1], str):
            return payloads[number - 1]
        return None
