"""A stand-in for WeChat's servers, on loopback, for the WeChat channel's tests.

It plays WeChat's two parts:

* the caller: builds callbacks (text, events, images ...), signs them and, in
  safe mode, encrypts them, POSTs them to the channel's URL and, like WeChat,
  waits ``retry_delay`` seconds (5 s by default) for an answer before
  delivering the same callback again, 3 times at most. It can also "lose"
  answers (WeChat never hears them, so it retries after the full wait).
  Replies are checked the way WeChat would: the safe-mode envelope's
  signature, then the decryption.
* the API: ``/cgi-bin/stable_token`` (tokens with an expiry; it can be told
  to expire them or to answer an errcode) and
  ``/cgi-bin/message/custom/send`` (records every message; it can be told to
  answer 45015, 45047, 40001, ...).

And one test helper that is not WeChat: ``/webhook`` passes Rasa's calls on
to the real action server after ``action_delay`` seconds, so a test can make
a bot turn slow.

The crypto here is written from WeChat's specification with ``cryptography``
and ``hashlib``, independently of wechatpy (which the channel uses), and is
checked against WeChat's published vectors in test_wechat_crypto.py.

Everything runs on its own event loop in a thread, so tests call it with
plain (blocking) methods.
"""
from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import json
import os
import secrets
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Tuple

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- WeChat's message crypto, from the specification ---------------------------


def wechat_signature(*values: str) -> str:
    """SHA-1 hex of the sorted values joined (token, timestamp, nonce[, Encrypt])."""
    return hashlib.sha1("".join(sorted(values)).encode("utf-8")).hexdigest()


class SpecCrypto:
    """AES-256-CBC, key = base64(EncodingAESKey + "="), IV = key[:16];
    plaintext = 16 random bytes + 4-byte big-endian length + message + AppID,
    PKCS#7-padded to a multiple of 32 bytes."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        self.key = base64.b64decode(encoding_aes_key + "=")
        assert len(self.key) == 32
        self.app_id = app_id

    def encrypt(self, message: str, random_prefix: Optional[bytes] = None) -> str:
        body = message.encode("utf-8")
        plain = (random_prefix or os.urandom(16)) + struct.pack(">I", len(body)) + body + self.app_id.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> Tuple[str, str]:
        """(message, AppID) of an Encrypt value."""
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        pad = plain[-1]
        assert 1 <= pad <= 32, "bad PKCS#7 padding"
        plain = plain[16:-pad]
        (length,) = struct.unpack(">I", plain[:4])
        return plain[4 : 4 + length].decode("utf-8"), plain[4 + length :].decode("utf-8")


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: Dict[str, Any]) -> str:
    """A callback body as WeChat writes it: text in CDATA, numbers bare."""
    parts = []
    for name, value in fields.items():
        text = str(value) if isinstance(value, int) else cdata(str(value))
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


# Bodies WeChat never sends: entity expansion (billion laughs) and an external entity.
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><ToUserName>gh_abc</ToUserName><FromUserName>oUser_123456</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol4;</Content><MsgId>1</MsgId></xml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh_abc</ToUserName><FromUserName>oUser_123456</FromUserName>
<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&secret;</Content><MsgId>1</MsgId></xml>"""


# -- results --------------------------------------------------------------------


@dataclass
class Attempt:
    status: Optional[int]  # None: no answer within the wait
    body: str = ""
    elapsed: float = 0.0
    lost: bool = False  # answered, but WeChat "never heard" it (test setting)
    reply_xml: Optional[str] = None  # the plaintext reply (decrypted in safe mode)
    content: Optional[str] = None  # the reply's Content, if it is a text reply
    reply_signature_ok: Optional[bool] = None  # safe mode: MsgSignature checked


@dataclass
class Delivery:
    attempts: List[Attempt] = field(default_factory=list)

    @property
    def answer(self) -> Attempt:
        """The attempt whose answer WeChat took (the last one)."""
        return self.attempts[-1]

    @property
    def content(self) -> Optional[str]:
        return self.answer.content

    @property
    def status(self) -> Optional[int]:
        return self.answer.status


@dataclass
class SentMessage:
    touser: Optional[str]
    content: Optional[str]
    access_token: Optional[str]
    errcode: int
    raw: bytes


# -- the simulator ------------------------------------------------------------------


class WeChatSimulator:
    def __init__(
        self,
        token: str,
        app_id: str,
        app_secret: str,
        encoding_aes_key: Optional[str] = None,
        account: str = "gh_0123456789ab",
        retry_delay: float = 5.0,
        retries: int = 3,
        token_ttl: int = 7200,
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.app_secret = app_secret
        self.crypto = SpecCrypto(encoding_aes_key, app_id) if encoding_aes_key else None
        self.account = account
        self.retry_delay = retry_delay
        self.retries = retries
        self.token_ttl = token_ttl
        self.channel_url: Optional[str] = None  # set by the test
        self.action_target: Optional[str] = None  # the real action server's /webhook
        self.action_delay = 0.0
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # API state (touched on the simulator's loop; read anywhere)
        self.token_calls: List[Dict[str, Any]] = []
        self.sent: List[SentMessage] = []
        self._tokens: Dict[str, float] = {}  # token -> expires at (time.time())
        self._current: Optional[str] = None
        self._send_errors: Deque[int] = collections.deque()
        self._token_errors: Deque[int] = collections.deque()
        self._msg_ids = iter(range(int(time.time()) * 1000, 2**63))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wechat-simulator", daemon=True)
        self._runner: Optional[web.AppRunner] = None
        self._session: Optional[aiohttp.ClientSession] = None

    # -- life ----------------------------------------------------------------

    def start(self) -> "WeChatSimulator":
        self._thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.call(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> "WeChatSimulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def call(self, coroutine, timeout: float = 120.0):
        """Run ``coroutine`` on the simulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _start(self) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/cgi-bin/stable_token", self._stable_token)
        app.router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        app.router.add_post("/webhook", self._action_proxy)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession()

    async def _stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- test controls -------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far has expired (custom send answers 42001)."""
        self._loop.call_soon_threadsafe(self._expire_all)

    def _expire_all(self) -> None:
        for token in self._tokens:
            self._tokens[token] = 0.0

    def fail_sends(self, errcode: int, times: int = 1) -> None:
        """The next ``times`` custom sends answer ``errcode``."""
        self._loop.call_soon_threadsafe(self._send_errors.extend, [errcode] * times)

    def fail_token(self, errcode: int, times: int = 1) -> None:
        self._loop.call_soon_threadsafe(self._token_errors.extend, [errcode] * times)

    def sent_to(self, openid: str, delivered_only: bool = True) -> List[SentMessage]:
        return [m for m in list(self.sent) if m.touser == openid and (m.errcode == 0 or not delivered_only)]

    def wait_for_sent(self, openid: str, count: int, timeout: float = 30.0) -> List[str]:
        """The contents of the first ``count`` messages delivered to ``openid``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            delivered = self.sent_to(openid)
            if len(delivered) >= count:
                return [m.content for m in delivered]
            time.sleep(0.05)
        raise AssertionError(f"{len(self.sent_to(openid))} of {count} messages sent to {openid} within {timeout}s")

    # -- WeChat calling the channel ----------------------------------------------------

    def signed_params(self, timestamp: Optional[str] = None, nonce: Optional[str] = None) -> Dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        return {"signature": wechat_signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}

    def verify_url(self, echostr: str, params: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
        """WeChat's GET check of the callback URL."""
        query = {**self.signed_params(), "echostr": echostr, **(params or {})}
        return self.call(self._request("GET", query, None))

    def post_raw(self, body: bytes, params: Optional[Dict[str, str]] = None, signed: bool = True) -> Tuple[int, str]:
        """One POST of ``body`` as it is (for malformed input)."""
        query = {**(self.signed_params() if signed else {}), **(params or {})}
        return self.call(self._request("POST", query, body))

    async def _request(self, method: str, params: Dict[str, str], body: Optional[bytes]) -> Tuple[int, str]:
        async with self._session.request(method, self.channel_url, params=params, data=body) as response:
            return response.status, await response.text()

    def text(self, openid: str, content: str, msg_id: Optional[int] = None) -> Dict[str, Any]:
        return {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id or next(self._msg_ids),
        }

    def event(self, openid: str, event: str, key: Optional[str] = None) -> Dict[str, Any]:
        fields: Dict[str, Any] = {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": event,
        }
        if key is not None:
            fields["EventKey"] = key
        return fields

    def media(self, openid: str, kind: str) -> Dict[str, Any]:
        fields: Dict[str, Any] = {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": kind,
            "MediaId": secrets.token_urlsafe(24),
            "MsgId": next(self._msg_ids),
        }
        if kind == "image":
            fields["PicUrl"] = "http://mmbiz.qpic.cn/example.jpg"
        else:
            fields["Format"] = "amr"
        return fields

    def deliver(
        self,
        fields: Dict[str, Any],
        safe: bool = False,
        patience: Optional[float] = None,
        lose_answers: bool = False,
    ) -> Delivery:
        """Deliver a callback as WeChat does: wait ``patience`` (default
        ``retry_delay``) for each answer, deliver again when none came, 3
        times at most. ``lose_answers``: every answer is lost on the way."""
        return self.call(self._deliver(message_xml(fields), safe, patience or self.retry_delay, lose_answers))

    def deliver_concurrently(self, fields: Dict[str, Any], urls: List[str], safe: bool = False) -> List[Attempt]:
        """The same callback to several workers at once (a retry racing the original)."""
        return self.call(self._concurrently(message_xml(fields), urls, safe))

    def _envelope(self, xml: str, safe: bool) -> Tuple[Dict[str, str], bytes]:
        params = self.signed_params()
        if not safe:
            return params, xml.encode("utf-8")
        encrypted = self.crypto.encrypt(xml)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = wechat_signature(self.token, params["timestamp"], params["nonce"], encrypted)
        body = f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        return params, body.encode("utf-8")

    async def _deliver(self, xml: str, safe: bool, patience: float, lose: bool) -> Delivery:
        params, body = self._envelope(xml, safe)  # retries repeat the same request
        delivery = Delivery()
        for _ in range(1 + self.retries):
            attempt = await self._attempt(self.channel_url, params, body, safe, patience)
            delivery.attempts.append(attempt)
            if attempt.status is not None and not lose:
                break
            if attempt.status is not None:  # lost: WeChat waits out its patience
                attempt.lost = True
                if len(delivery.attempts) <= self.retries:
                    await asyncio.sleep(max(0.0, patience - attempt.elapsed))
        return delivery

    async def _concurrently(self, xml: str, urls: List[str], safe: bool) -> List[Attempt]:
        params, body = self._envelope(xml, safe)
        return list(await asyncio.gather(*(self._attempt(url, params, body, safe, 30.0) for url in urls)))

    async def _attempt(self, url: str, params: Dict[str, str], body: bytes, safe: bool, patience: float) -> Attempt:
        started = time.monotonic()
        try:
            async with self._session.post(
                url, params=params, data=body, timeout=aiohttp.ClientTimeout(total=patience)
            ) as response:
                text = await response.text()
                status = response.status
        except asyncio.TimeoutError:  # WeChat hangs up
            return Attempt(status=None, elapsed=time.monotonic() - started)
        attempt = Attempt(status=status, body=text, elapsed=time.monotonic() - started)
        if status == 200 and text.strip() not in ("", "success"):
            self._read_reply(attempt, text, safe)
        return attempt

    def _read_reply(self, attempt: Attempt, text: str, safe: bool) -> None:
        root = ElementTree.fromstring(text)
        if safe:
            encrypted = root.findtext("Encrypt") or ""
            expected = wechat_signature(
                self.token, root.findtext("TimeStamp") or "", root.findtext("Nonce") or "", encrypted
            )
            attempt.reply_signature_ok = expected == root.findtext("MsgSignature")
            plain, app_id = self.crypto.decrypt(encrypted)
            assert app_id == self.app_id, "reply encrypted for another AppID"
            root = ElementTree.fromstring(plain)
            attempt.reply_xml = plain
        else:
            attempt.reply_xml = text
        if root.findtext("MsgType") == "text":
            attempt.content = root.findtext("Content")

    # -- WeChat's API ------------------------------------------------------------------

    async def _stable_token(self, request: web.Request) -> web.Response:
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        self.token_calls.append({"appid": payload.get("appid"), "force_refresh": payload.get("force_refresh")})
        if self._token_errors:
            errcode = self._token_errors.popleft()
            return web.json_response({"errcode": errcode, "errmsg": "simulated error"})
        if payload.get("grant_type") != "client_credential":
            return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
        if payload.get("appid") != self.app_id:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if payload.get("secret") != self.app_secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        now = time.time()
        current = self._current
        if current is None or self._tokens[current] <= now or payload.get("force_refresh"):
            current = f"SIM_{secrets.token_urlsafe(24)}"
            self._tokens[current] = now + self.token_ttl
            self._current = current
        return web.json_response({"access_token": current, "expires_in": int(self._tokens[current] - now)})

    async def _custom_send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token")
        raw = await request.read()
        try:
            payload = json.loads(raw.decode("utf-8"))
            touser = payload.get("touser")
            content = (payload.get("text") or {}).get("content") if payload.get("msgtype") == "text" else None
        except (ValueError, AttributeError):
            payload, touser, content = None, None, None
        if token not in self._tokens:
            errcode = 40001
        elif self._tokens[token] <= time.time():
            errcode = 42001
        elif payload is None or not touser:
            errcode = 47001
        elif self._send_errors:
            errcode = self._send_errors.popleft()
        elif content is None or len(content.encode("utf-8")) >= 2048:
            errcode = 45002  # content size out of limit
        else:
            errcode = 0
        self.sent.append(SentMessage(touser, content, token, errcode, raw))
        return web.json_response({"errcode": errcode, "errmsg": "ok" if errcode == 0 else "simulated error"})

    # -- not WeChat: the slow action server ----------------------------------------------

    async def _action_proxy(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.action_delay:
            await asyncio.sleep(self.action_delay)
        async with self._session.post(
            self.action_target, data=body, headers={"Content-Type": request.content_type or "application/json"}
        ) as response:
            return web.Response(body=await response.read(), status=response.status, content_type="application/json")
