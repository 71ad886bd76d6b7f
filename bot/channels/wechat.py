"""The WeChat official account channel (微信公众号), for Rasa:

    # credentials.yml
    bot.channels.wechat.WeChatInput:
      reply_deadline: 4.5      # seconds to answer in the HTTP reply

Callback URL: ``/webhooks/wechat/webhook`` (GET: URL verification; POST:
messages, plaintext or safe mode). Secrets come from the environment
(``BOT_WECHAT_TOKEN``, ``BOT_WECHAT_APP_ID``, ``BOT_WECHAT_APP_SECRET``,
``BOT_WECHAT_ENCODING_AES_KEY``; see ``bot.settings``); without a token every
callback is refused.

A customer's OpenID is the Rasa conversation id; logs show it masked only.
WeChat waits 5 s for the HTTP reply and then delivers the message again (3
times at most): a bot turn that is ready within ``reply_deadline`` is the
passive reply, a slower one is acknowledged with "success" and sent through
the customer-service message API as it comes. Retries never start a second
turn (``bot.channels.wechat_dedupe``): a retry is answered "success", or with
the same passive reply when the first delivery got one (WeChat retries only
when that reply never reached it).
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional, Set, Text

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa.core.channels.channel import InputChannel, UserMessage

from bot.channels import wechat_texts as texts
from bot.channels.wechat_api import WeChatApi
from bot.channels.wechat_choices import ChoiceStore
from bot.channels.wechat_dedupe import Deduplicator, delivery_key
from bot.channels.wechat_output import TurnOutput, WeChatOutput
from bot.channels.wechat_render import passive_text_reply
from bot.channels.wechat_security import (
    BadRequest,
    Forbidden,
    SafeModeCrypto,
    parse_wechat_message,
    signature_matches,
)
from bot.channels.wechat_store import make_store
from bot.privacy import mask_identifier

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# The custom menu's CLICK keys and the Rasa payloads they send.
DEFAULT_MENU = {
    "FAQ": "/greet",
    "HUMAN": "/request_human",
    "BOOK": "/book_appointment",
    "STATUS": "/check_application_status",
}
# A new follower is greeted as if they had said hello (welcome + 猜你想问).
SUBSCRIBE_PAYLOAD = "/greet"
# OpenIDs are 28 URL-safe characters; anything else is not a WeChat sender.
_OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}")
_SUCCESS = "success"  # WeChat's "received, no reply" (it will not retry)
WECHAT_PATIENCE = 5.0  # seconds WeChat waits for the HTTP reply


@dataclass
class _Turn:
    """Send ``text`` to the bot; ``typed``: the customer wrote it (may be a number)."""

    text: str
    typed: bool


@dataclass
class _Reply:
    """Answer with ``text`` without the bot."""

    text: str


class WeChatInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatInput":
        """Options from credentials.yml; secrets and addresses from ``bot.settings``."""
        from bot.settings import get_settings

        settings = get_settings()
        options = dict(credentials or {})
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown WeChat channel options: {sorted(unknown)}")
        return cls(
            token=settings.wechat_token,
            app_id=settings.wechat_app_id,
            app_secret=settings.wechat_app_secret,
            encoding_aes_key=settings.wechat_encoding_aes_key,
            api_base=settings.wechat_api_base,
            redis_url=settings.redis_url,
            **options,
        )

    def __init__(
        self,
        token: Optional[str],
        app_id: Optional[str] = None,
        app_secret: Optional[str] = None,
        encoding_aes_key: Optional[str] = None,
        api_base: str = "https://api.weixin.qq.com",
        redis_url: Optional[str] = None,
        reply_deadline: float = 4.5,
        compatible_mode: bool = False,
        max_body_bytes: int = 32 * 1024,
        key_prefix: Optional[str] = None,
        dedupe_ttl: float = 300.0,
        choice_ttl: float = 3600.0,
        api_timeout: float = 5.0,
        menu: Optional[Dict[str, str]] = None,
    ) -> None:
        self.token = token or None
        # Safe mode (安全模式) when an EncodingAESKey is set; compatible mode
        # (兼容模式) also takes plaintext callbacks, which are then signed only.
        self._crypto = (
            SafeModeCrypto(token or "", encoding_aes_key, app_id or "") if encoding_aes_key else None
        )
        self.compatible_mode = bool(compatible_mode)
        self.reply_deadline = float(reply_deadline)
        self.max_body_bytes = int(max_body_bytes)
        self.menu = {**DEFAULT_MENU, **{str(k): str(v) for k, v in (menu or {}).items()}}
        prefix = key_prefix if key_prefix is not None else f"wechat:{app_id or 'default'}:"
        self.store = make_store(redis_url)
        self.dedupe = Deduplicator(self.store, prefix, ttl=float(dedupe_ttl))
        self.choices = ChoiceStore(self.store, prefix, ttl=float(choice_ttl))
        self.api = WeChatApi(api_base, app_id, app_secret, self.store, prefix, timeout=float(api_timeout))
        self._tasks: Set[asyncio.Task] = set()
        if not 0 < self.reply_deadline < WECHAT_PATIENCE:
            logger.warning(
                "WeChat reply_deadline %.1f s: WeChat waits %.0f s for a reply",
                self.reply_deadline,
                WECHAT_PATIENCE,
            )
        if not self.token:
            logger.warning("WeChat channel has no token (BOT_WECHAT_TOKEN): every callback is refused")

    # -- Rasa's interface ---------------------------------------------------

    def get_output_channel(self) -> WeChatOutput:
        """Messages outside a customer's turn (agents, reminders): the message API."""
        return WeChatOutput(self.api, self.choices)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint("wechat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return self._verify_url(request)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        return webhook

    # -- HTTP ---------------------------------------------------------------

    def _signed(self, request: Request) -> bool:
        args = request.args
        return bool(self.token) and signature_matches(
            args.get("signature"), self.token, args.get("timestamp"), args.get("nonce")
        )

    def _verify_url(self, request: Request) -> HTTPResponse:
        """WeChat's check of the callback URL: echo ``echostr`` if signed with our token."""
        if not self._signed(request):
            logger.warning("WeChat URL verification refused: bad signature")
            return response.text("forbidden", status=403)
        echostr = request.args.get("echostr")
        if not echostr:
            return response.text("bad request", status=400)
        return response.text(echostr)

    async def _read_body(self, request: Request) -> Optional[bytes]:
        """The body, or None when it is larger than ``max_body_bytes`` (read no further)."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return None
        if request.stream is None:
            return request.body if len(request.body or b"") <= self.max_body_bytes else None
        chunks, size = [], 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)

    async def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        # The signature first: nothing of an unsigned request is read or parsed.
        if not self._signed(request):
            logger.warning("WeChat callback refused: bad signature")
            return response.text("forbidden", status=403)
        body = await self._read_body(request)
        if body is None:
            logger.warning("WeChat callback refused: body over %d bytes", self.max_body_bytes)
            return response.text("bad request", status=400)
        args = request.args
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        encrypted = (args.get("encrypt_type") or "raw").lower() == "aes"
        try:
            if encrypted:
                if self._crypto is None:
                    raise Forbidden("encrypted callback, but no EncodingAESKey is configured")
                xml = self._crypto.decrypt(body, args.get("msg_signature"), timestamp, nonce)
            elif self._crypto is not None and not self.compatible_mode:
                raise Forbidden("plaintext callback, but the channel is in safe mode")
            else:
                xml = body
            message, fields = parse_wechat_message(xml)
        except Forbidden as error:
            logger.warning("WeChat callback refused: %s", error)
            return response.text("forbidden", status=403)
        except BadRequest as error:
            logger.warning("WeChat callback rejected: %s", error)
            return response.text("bad request", status=400)

        try:
            reply = await self._handle(message, fields, on_new_message)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # never let WeChat retry what failed here
            logger.error("WeChat message not handled: %s", type(error).__name__)
            logger.debug("WeChat message not handled", exc_info=True)
            reply = None
        if reply is None:
            return response.text(_SUCCESS)
        xml_reply = passive_text_reply(reply, account=fields["ToUserName"], openid=fields["FromUserName"])
        if encrypted:
            xml_reply = self._crypto.encrypt(xml_reply, nonce)
        return response.text(xml_reply, content_type="application/xml; charset=utf-8")

    # -- messages -------------------------------------------------------------

    def _classify(self, message) -> Optional[Any]:
        """What to do with a message: a bot turn, a fixed reply, or nothing."""
        kind = message.type
        if kind == "text":
            text = (message.content or "").strip()
            return _Turn(text, typed=True) if text else None
        if kind in ("image", "voice"):
            return _Reply(texts.TEXT_ONLY)
        if kind == "event":
            event = (message.event or "").lower()
            if event in ("subscribe", "subscribe_scan"):
                return _Turn(SUBSCRIBE_PAYLOAD, typed=False)
            if event == "click":
                payload = self.menu.get((getattr(message, "key", None) or "").strip())
                return _Turn(payload, typed=False) if payload else None
        return None  # unsubscribe, menu links, locations, videos, ...

    async def _handle(
        self, message, fields: Dict[str, str], on_new_message: OnNewMessage
    ) -> Optional[str]:
        sender = fields["FromUserName"]
        if not _OPENID.fullmatch(sender):
            logger.warning("WeChat message from a sender that is no OpenID ignored")
            return None
        action = self._classify(message)
        if action is None:
            return None
        key = delivery_key(fields.get("MsgId"), sender, fields.get("CreateTime"))
        who = mask_identifier(sender)
        if not await self.dedupe.claim(key):
            logger.info("WeChat delivered a message from %s again: not handled twice", who)
            return await self.dedupe.duplicate(key)
        if isinstance(action, _Reply):
            if await self.dedupe.answer_passively(key, action.text):
                return action.text
            self._spawn(self.get_output_channel().send_text_message(sender, action.text))
            return None

        text = action.text
        if action.typed:
            text = await self.choices.resolve(sender, text) or text
        await self.choices.save(sender, [])  # this message answers or replaces the list
        logger.info("WeChat message from %s (%s) to the bot", who, message.type)
        return await self._run_turn(on_new_message, sender, text, key)

    async def _run_turn(
        self, on_new_message: OnNewMessage, sender: str, text: str, key: str
    ) -> Optional[str]:
        output = TurnOutput(self.api, self.choices)
        user_message = UserMessage(text, output, sender, input_channel=self.name(), message_id=key)
        turn = self._spawn(self._process(on_new_message, user_message, output))
        try:
            await asyncio.wait({turn}, timeout=self.reply_deadline)
        except asyncio.CancelledError:  # WeChat hung up: answer through the API
            self._spawn(self._answer_later(output, sender, key))
            raise
        if not turn.done():
            logger.info(
                "bot turn for %s slower than %.1f s: answering through the API",
                mask_identifier(sender),
                self.reply_deadline,
            )
            self._spawn(self._answer_later(output, sender, key))
            return None
        # Shielded: should WeChat hang up now, the answer is still recorded
        # (and its retry gets it) or pushed.
        return await asyncio.shield(self._spawn(self._conclude(output, sender, key)))

    async def _conclude(self, output: TurnOutput, sender: str, key: str) -> Optional[str]:
        """The passive reply of a turn that ended in time, or None (pushed instead)."""
        pieces = await output.take_passive(sender)
        if len(pieces) == 1 and await self.dedupe.answer_passively(key, pieces[0]):
            return pieces[0]
        await self.dedupe.pushed(key)
        if pieces:  # too long for one reply, or WeChat already delivered it again
            self._spawn(output.push(sender, pieces))
        return None

    async def _process(self, on_new_message: OnNewMessage, message: UserMessage, output: TurnOutput) -> None:
        try:
            await on_new_message(message)
        except Exception as error:
            logger.error(
                "bot failed on a WeChat message from %s: %s",
                mask_identifier(message.sender_id),
                type(error).__name__,
            )
            await output.send_response(message.sender_id, {"text": texts.BUSY})
        finally:
            output.turn_ended()

    async def _answer_later(self, output: TurnOutput, sender: str, key: str) -> None:
        await self.dedupe.pushed(key)
        await output.switch_to_push(sender)

    def _spawn(self, coroutine) -> asyncio.Task:
        """A task that outlives the request (kept referenced until done)."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("WeChat background task failed: %s", type(task.exception()).__name__)


_OPTIONS = frozenset(
    {
        "reply_deadline",
        "compatible_mode",
        "max_body_bytes",
        "key_prefix",
        "dedupe_ttl",
        "choice_ttl",
        "api_timeout",
        "menu",
    }
)
