"""Output channels that reach a WeChat customer through the customer-service
message API (客服消息).

``WeChatOutput``: what Rasa's ``get_output_channel`` hands out for messages
outside a customer's turn (an agent's words appended through Rasa's HTTP
API, reminders). A failure is raised, so Rasa's API answers with an error
and the console learns the message did not arrive.

``TurnOutput``: one customer's turn. It collects the bot's messages while
the channel may still answer in the HTTP reply; once the channel gives up
waiting (or answers), the rest is pushed through the API as it comes. A
failure is logged, never raised into Rasa's turn.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import OutputChannel

from bot.channels.wechat_api import WeChatApi, WeChatApiError
from bot.channels.wechat_choices import ChoiceStore
from bot.channels.wechat_render import BotMessage, Numbering, from_rasa, split_text
from bot.privacy import mask_identifier

logger = logging.getLogger(__name__)


class WeChatDeliveryError(Exception):
    """A message did not reach the customer (the text names no customer)."""


class WeChatOutput(OutputChannel):
    def __init__(self, api: WeChatApi, choices: ChoiceStore, raise_errors: bool = True) -> None:
        self._api = api
        self._choices = choices
        self._raise = raise_errors
        self._numbering = Numbering()  # one batch: this output channel's messages
        self._lock: Optional[asyncio.Lock] = None

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    def _sending(self) -> asyncio.Lock:
        """Messages go out one at a time, in order."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        bot_message = from_rasa(message)
        if bot_message is not None:
            await self._send(recipient_id, [bot_message], self._numbering)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons})

    async def _send(self, recipient_id: str, messages: List[BotMessage], numbering: Numbering) -> None:
        async with self._sending():
            text = await self._render(recipient_id, messages, numbering)
            await self._deliver(recipient_id, split_text(text))

    async def _render(self, recipient_id: str, messages: List[BotMessage], numbering: Numbering) -> str:
        text = numbering.render_all(messages)
        await self._choices.save(recipient_id, numbering.payloads)  # the list shown last counts
        return text

    async def _deliver(self, recipient_id: str, pieces: List[str]) -> None:
        for piece in pieces:
            try:
                await self._api.send_text(recipient_id, piece)
            except WeChatApiError as error:
                logger.warning(
                    "WeChat message to %s not delivered: %s", mask_identifier(recipient_id), error
                )
                if self._raise:
                    raise WeChatDeliveryError(str(error)) from None
                return  # the rest would make no sense without this piece


class TurnOutput(WeChatOutput):
    def __init__(self, api: WeChatApi, choices: ChoiceStore) -> None:
        super().__init__(api, choices, raise_errors=False)
        self._collecting = True
        self._pending: List[BotMessage] = []
        self._turn_over = False

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        bot_message = from_rasa(message)
        if bot_message is None:
            return
        if self._collecting:
            self._pending.append(bot_message)
            return
        # Pushed: numbered with the turn while it lasts; later (a reminder
        # Rasa scheduled in this turn) each message is a batch of its own.
        await self._send(recipient_id, [bot_message], Numbering() if self._turn_over else self._numbering)

    def turn_ended(self) -> None:
        self._turn_over = True

    async def take_passive(self, recipient_id: str) -> List[str]:
        """The finished turn's messages as one text, in pieces; what comes later is pushed."""
        self._collecting = False
        messages, self._pending = self._pending, []
        if not messages:
            return []
        return split_text(await self._render(recipient_id, messages, self._numbering))

    async def push(self, recipient_id: str, pieces: List[str]) -> None:
        """Pieces that could not be the passive reply."""
        async with self._sending():
            await self._deliver(recipient_id, pieces)

    async def switch_to_push(self, recipient_id: str) -> None:
        """Too late for the HTTP reply: what was collected goes out now, the rest as it comes."""
        self._collecting = False
        messages, self._pending = self._pending, []
        if messages:
            # Acquired before this task yields, so nothing overtakes these.
            await self._send(recipient_id, messages, self._numbering)
