"""Customers' messages while a person has their conversation.

Rasa's handoff relay (``bot.handoff.relay``) posts every customer message
here, from any channel and any Rasa replica:

    POST /internal/customer-messages
    Authorization: Bearer <BOT_INTERNAL_TOKEN>
    {"conversation_id": "...", "text": "..."}

A conversation without a waiting or open case is none of the console's
business (204). Otherwise the line is added to the case's transcript and the
agents' screens are told (the queue too while the case waits: the message
that made the bot open a case arrives right after, so a new case shows up
in every queue at once); a waiting customer who types "取消"/"返回机器人"
withdraws and gets the bot back, and one who types a mobile number leaves it
for a call back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from aiohttp import web
from sqlalchemy.orm import Session

from bot.booking.desk import find_mobile
from bot.console.api import read_json, text_field
from bot.console.context import CUSTOMER_LINE, HUB, config, run_db
from bot.console.errors import ApiError, json_response
from bot.console.hub import CASE_CHANGED, QUEUE_CHANGED
from bot.console.security import tokens_match
from bot.handoff import customer_texts
from bot.handoff.models import CaseStatus, MessageAuthor
from bot.handoff.repositories import CaseRepository
from bot.script import bare_words

logger = logging.getLogger(__name__)

PATH = "/internal/customer-messages"


@dataclass(frozen=True)
class Outcome:
    number: str
    waiting: bool
    withdrawn: bool = False
    callback_phone: Optional[str] = None


def wants_the_bot_back(text: str) -> bool:
    return bare_words(text) in customer_texts.WITHDRAW_WORDS


def require_internal_token(request: web.Request) -> None:
    expected = config(request).internal_token
    if not expected:
        raise ApiError(503, "internal endpoint disabled: BOT_INTERNAL_TOKEN is not set")
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not tokens_match(expected, supplied.strip()):
        raise ApiError(403, "bad internal token")


async def customer_message(request: web.Request) -> web.Response:
    require_internal_token(request)
    body = await read_json(request)
    conversation_id = text_field(body, "conversation_id", "会话", required=True, max_length=255)
    text = text_field(body, "text", "消息", required=True, max_length=5000)
    at = config(request).now()

    def work(session: Session) -> Optional[Outcome]:
        repo = CaseRepository(session)
        case = repo.active_for_conversation(conversation_id)
        if case is None:
            return None
        repo.add_message(case, MessageAuthor.CUSTOMER, text, at=at)
        waiting = case.status is CaseStatus.WAITING
        if waiting and wants_the_bot_back(text):
            repo.return_to_bot(case, None, at, note="客户取消转人工")
            return Outcome(case.number, waiting, withdrawn=True)
        phone = find_mobile(text) if waiting else None
        if phone and repo.leave_callback_number(case, phone, at):
            return Outcome(case.number, waiting, callback_phone=phone)
        return Outcome(case.number, waiting)

    outcome = await run_db(request, work)
    if outcome is None:
        return web.Response(status=204)
    line, hub = request.app[CUSTOMER_LINE], request.app[HUB]
    if outcome.withdrawn:
        await line.hand_back(conversation_id, customer_texts.WITHDRAWN)
    elif outcome.callback_phone:
        await line.say(conversation_id, customer_texts.callback_noted(outcome.callback_phone))
    # The line that asked for a person arrives just after the bot opened the
    # case: this is how agents' queues learn of new cases, live.
    if outcome.waiting:
        await hub.publish(QUEUE_CHANGED)
    await hub.publish(CASE_CHANGED, number=outcome.number)
    return json_response({"case": outcome.number, "withdrawn": outcome.withdrawn})


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, customer_message)
