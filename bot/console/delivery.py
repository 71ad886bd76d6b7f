"""The one place where an agent's message leaves for the customer.

Not wired yet: the console stores the message (the transcript is complete)
and reports ``delivered: false``; the UI says so. The Rasa side will fill
:func:`deliver_to_customer` in: send ``text`` into the customer's
conversation (``conversation_id`` on ``channel``), e.g. through Rasa's
``/conversations/{id}/trigger_intent`` or the channel's own API, and return
True once the channel accepted it. It is called after the message is
committed, for messages to the customer only (never for private notes).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    case_number: str
    conversation_id: str
    channel: str
    message_id: int
    text: str  # as the agent wrote it, unmasked: it is the customer's own conversation


async def deliver_to_customer(app: web.Application, message: OutgoingMessage) -> bool:
    """Hand ``message`` to the customer's channel; True once accepted.

    Not implemented until the Rasa side exists: nothing is sent, nothing is
    pretended. Must not raise for a channel failure (log it, return False):
    the message is stored either way."""
    logger.info(
        "message %s of case %s stored, not delivered: no customer channel is wired yet",
        message.message_id,
        message.case_number,
    )
    return False
