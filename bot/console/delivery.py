"""The console's line to customers: Rasa's HTTP API.

An agent's words become a ``bot`` event appended to the customer's Rasa
conversation with ``output_channel=latest&execute_side_effects=true``: Rasa
stores it in the tracker (the conversation's history stays whole) and sends
it on the channel the customer last wrote from (socket.io for the web widget,
the customer-service message API for WeChat), even while the conversation is
paused for the human. Handing back appends ``resume`` first (and a listen
last), so the bot answers the customer's next message again.

No method raises for a channel failure: the failure is logged and reported
as False (the console's transcript keeps the message either way).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

import aiohttp

from bot.privacy import mask_identifier

logger = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=15)
Button = Dict[str, str]


def bot_event(text: str, buttons: Optional[Sequence[Button]] = None) -> Dict[str, Any]:
    event: Dict[str, Any] = {"event": "bot", "text": text}
    if buttons:
        event["data"] = {"buttons": list(buttons)}
    return event


class CustomerLine:
    """Sends to customers' conversations through Rasa (one HTTP session per console)."""

    def __init__(self, rasa_url: str, token: Optional[str] = None) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self._token = token
        self._session: Optional[aiohttp.ClientSession] = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def say(
        self, conversation_id: str, text: str, buttons: Optional[Sequence[Button]] = None
    ) -> bool:
        """``text`` (and buttons) to the customer, the conversation staying as it is."""
        return await self._append(conversation_id, [bot_event(text, buttons)])

    async def hand_back(
        self, conversation_id: str, text: str, buttons: Optional[Sequence[Button]] = None
    ) -> bool:
        """Give the conversation back to the bot (``resume``) and tell the customer.

        Ends with ``action_listen``, as every bot turn does: while paused Rasa
        predicted nothing, and without it the customer's next message would
        follow the handoff action instead of a listen, which no rule expects."""
        return await self._append(
            conversation_id,
            [{"event": "resume"}, bot_event(text, buttons), {"event": "action", "name": "action_listen"}],
        )

    async def _append(self, conversation_id: str, events: List[Dict[str, Any]]) -> bool:
        await self.start()
        params = {"output_channel": "latest", "execute_side_effects": "true"}
        if self._token:
            params["token"] = self._token
        url = f"{self.rasa_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        who = mask_identifier(conversation_id)
        try:
            async with self._session.post(url, json=events, params=params) as response:
                if response.status == 200:
                    return True
                logger.warning(
                    "Rasa refused events for conversation %s: HTTP %s", who, response.status
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            logger.warning("Rasa unreachable for conversation %s: %r", who, error)
        return False
