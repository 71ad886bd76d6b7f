"""Customers' messages to the agents' console, from inside Rasa.

A Rasa event broker (``endpoints.yml``: ``event_broker: type:
bot.handoff.relay.HandoffRelay``) sees every event Rasa stores, whatever
the channel and whichever replica handled the message, including the
messages of conversations paused for a human (Rasa logs those and predicts
nothing). The relay forwards each customer message to the console's
``/internal/customer-messages`` (``bot.console.inbound``), which keeps the
ones that belong to a case and ignores the rest.

``publish`` is called on Rasa's event loop while a message is handled, so it
only queues; one worker task posts in order, retrying a console that is
briefly away. A full queue drops with a warning rather than holding Rasa up.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional, Text, Tuple

import aiohttp
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.privacy import mask_identifier
from bot.settings import get_settings

logger = logging.getLogger(__name__)

PATH = "/internal/customer-messages"
MAX_QUEUED = 1000
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
TIMEOUT = aiohttp.ClientTimeout(total=10)


class HandoffRelay(EventBroker):
    def __init__(self, console_url: str, token: str) -> None:
        self.url = console_url.rstrip("/") + PATH
        self._headers = {"Authorization": f"Bearer {token}"}
        self._queue: "asyncio.Queue[Tuple[str, str]]" = asyncio.Queue(MAX_QUEUED)
        self._worker: Optional[asyncio.Task] = None
        self._session: Optional[aiohttp.ClientSession] = None

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Any = None
    ) -> Optional["HandoffRelay"]:
        settings = get_settings()
        if not settings.internal_token:
            logger.warning(
                "BOT_INTERNAL_TOKEN is not set: customers' messages during a handoff "
                "will not reach the console (`make run` sets it)"
            )
            return None
        return cls(settings.console_base_url, settings.internal_token)

    def publish(self, event: Dict[Text, Any]) -> None:
        text = event.get("text")
        if event.get("event") != "user" or not isinstance(text, str) or not text.strip():
            return
        if text.startswith("/"):  # a button's payload (/leave_message…): the bot's business
            return
        try:
            self._queue.put_nowait((str(event.get("sender_id")), text))
        except asyncio.QueueFull:
            logger.warning("handoff relay queue full: a message of %s was not relayed",
                           mask_identifier(str(event.get("sender_id"))))
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._forward_all())

    async def _forward_all(self) -> None:
        while True:
            conversation_id, text = await self._queue.get()
            try:
                await self._forward(conversation_id, text)
            finally:
                self._queue.task_done()

    async def _forward(self, conversation_id: str, text: str) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        body = {"conversation_id": conversation_id, "text": text}
        for delay in (*RETRY_DELAYS, None):
            try:
                async with self._session.post(self.url, json=body, headers=self._headers) as response:
                    if response.status < 500:
                        if response.status >= 400:
                            logger.warning("console refused a relayed message: HTTP %s", response.status)
                        return
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                pass
            if delay is None:
                break
            await asyncio.sleep(delay)
        logger.error("console unreachable: a message of %s was not relayed",
                     mask_identifier(conversation_id))

    async def close(self) -> None:
        if self._worker is not None:
            try:
                await asyncio.wait_for(self._queue.join(), timeout=5)
            except asyncio.TimeoutError:
                pass
            self._worker.cancel()
        if self._session is not None:
            await self._session.close()
