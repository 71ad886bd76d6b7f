"""Bot messages as WeChat text: buttons as numbered choices, long text split
under WeChat's 2048-byte limit, and the passive reply's XML."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from wechatpy.replies import TextReply

from bot.channels import wechat_texts as texts
from bot.script import Script, detect_script, in_script

# WeChat refuses text of 2048 bytes and more (passive reply and 客服消息 alike).
MAX_TEXT_BYTES = 2047
# Where a long text is best cut, best first; never in the first half of a piece.
_BREAKS = ("\n", "。！？；!?;", "，、,：: ")


@dataclass
class BotMessage:
    text: str
    buttons: List[Dict[str, Any]] = field(default_factory=list)


def from_rasa(message: Dict[str, Any]) -> Optional[BotMessage]:
    """What WeChat text can carry of a Rasa message (text, buttons, links)."""
    lines = [message.get("text") or ""]
    for key in ("image", "attachment"):
        if isinstance(message.get(key), str):
            lines.append(message[key])
    buttons = [
        b for b in (message.get("buttons") or message.get("quick_replies") or [])
        if isinstance(b, dict) and isinstance(b.get("payload"), str)
    ]
    text = "\n".join(line for line in lines if line).strip()
    if not text and not buttons:
        return None
    return BotMessage(text, buttons)


class Numbering:
    """Numbers the buttons of one batch of messages (a bot turn) continuously
    and remembers each number's payload."""

    def __init__(self) -> None:
        self.payloads: List[str] = []

    def render(self, message: BotMessage) -> str:
        if not message.buttons:
            return message.text
        lines = []
        for button in message.buttons:
            self.payloads.append(button["payload"])
            title = str(button.get("title") or button["payload"]).strip()
            lines.append(f"{len(self.payloads)}. {title}")
        header = texts.CHOOSE_BY_NUMBER
        if detect_script(message.text) == Script.TRADITIONAL:
            header = in_script(header, Script.TRADITIONAL)
        body = "\n".join([header, *lines])
        return f"{message.text}\n{body}" if message.text else body

    def render_all(self, messages: List[BotMessage]) -> str:
        return "\n\n".join(self.render(m) for m in messages)


def split_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> List[str]:
    """``text`` in pieces of at most ``max_bytes`` UTF-8 bytes, cut between
    characters (preferably after a line or a sentence); joined they are ``text``."""
    pieces = []
    rest = text
    while len(rest.encode("utf-8")) > max_bytes:
        head = rest.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
        cut = max(1, len(head))
        for marks in _BREAKS:
            position = max(head.rfind(mark) for mark in marks)
            if position + 1 >= cut // 2:
                cut = position + 1
                break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def escape_cdata(text: str) -> str:
    """Text safe inside ``<![CDATA[...]]>`` (wechatpy's renderer does not escape)."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def passive_text_reply(content: str, account: str, openid: str) -> str:
    """The XML of a passive text reply from ``account`` to ``openid``."""
    reply = TextReply(
        source=escape_cdata(account),
        target=escape_cdata(openid),
        content=escape_cdata(content),
        time=int(time.time()),
    )
    return reply.render()
