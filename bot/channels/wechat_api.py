"""The two WeChat server APIs the channel calls: the stable access token and
the customer-service message (客服消息). Every answer's ``errcode`` is
checked: a rejected token (40001, 40014, 42001) is refreshed and the call
retried once; a closed reply window (45015) or an exhausted quota (45047) is
logged by the caller and reported, never retried."""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional, Tuple

import aiohttp

from bot.channels.wechat_token import AccessTokenCache, TokenUnavailable

logger = logging.getLogger(__name__)

TOKEN_REJECTED = frozenset({40001, 40014, 42001})
MEANINGS = {
    40001: "access token invalid",
    40014: "access token invalid",
    42001: "access token expired",
    45015: "reply window closed (48 h after the customer's last message)",
    45047: "customer-service message quota reached",
}
# Our own codes for failures that are not WeChat's answers.
UNREACHABLE, NOT_CONFIGURED, NO_TOKEN, BAD_ANSWER = -1, -2, -3, -4


class WeChatApiError(Exception):
    """WeChat did not do what was asked. The message names no customer."""

    def __init__(self, errcode: int, detail: str = "") -> None:
        self.errcode = errcode
        meaning = MEANINGS.get(errcode, detail or "error")
        super().__init__(f"WeChat errcode {errcode}: {meaning}")


class WeChatApi:
    """One per channel (per worker); the token cache is shared through ``store``."""

    def __init__(
        self,
        api_base: str,
        app_id: Optional[str],
        app_secret: Optional[str],
        store,
        prefix: str = "wechat:",
        timeout: float = 5.0,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: Optional[aiohttp.ClientSession] = None
        self.tokens = AccessTokenCache(store, self._fetch_token, prefix)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(
        self, path: str, payload: Dict[str, Any], params: Optional[Dict[str, str]] = None
    ) -> Dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        # UTF-8 JSON as WeChat expects it (it shows \u escapes literally).
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            async with self._session.post(
                f"{self.api_base}{path}",
                params=params,
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
            ) as response:
                if response.status != 200:
                    raise WeChatApiError(UNREACHABLE, f"HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
            raise WeChatApiError(UNREACHABLE, type(error).__name__) from None
        if not isinstance(answer, dict):
            raise WeChatApiError(BAD_ANSWER, "answer is not a JSON object")
        return answer

    async def _fetch_token(self) -> Tuple[str, int]:
        if not (self._app_id and self._app_secret):
            raise WeChatApiError(NOT_CONFIGURED, "AppID/AppSecret not configured")
        answer = await self._post(
            "/cgi-bin/stable_token",
            {"grant_type": "client_credential", "appid": self._app_id, "secret": self._app_secret},
        )
        errcode = _errcode(answer)
        if errcode:
            raise WeChatApiError(errcode, "stable_token refused")
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise WeChatApiError(BAD_ANSWER, "stable_token answer incomplete")
        logger.info("WeChat access token refreshed (valid %d s)", expires_in)
        return token, expires_in

    async def _token(self) -> str:
        try:
            return await self.tokens.get()
        except TokenUnavailable as error:
            raise WeChatApiError(NO_TOKEN, str(error)) from None

    async def send_text(self, openid: str, content: str) -> None:
        """One text message to the customer (content under 2048 bytes)."""
        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        for attempt in (1, 2):
            token = await self._token()
            answer = await self._post("/cgi-bin/message/custom/send", payload, {"access_token": token})
            errcode = _errcode(answer)
            if errcode == 0:
                return
            if errcode in TOKEN_REJECTED and attempt == 1:
                logger.info("WeChat rejected the access token (errcode %d): refreshing once", errcode)
                await self.tokens.invalidate(token)
                continue
            raise WeChatApiError(errcode, "custom send refused")


def _errcode(answer: Dict[str, Any]) -> int:
    try:
        return int(answer.get("errcode") or 0)
    except (TypeError, ValueError):
        return BAD_ANSWER
