"""Traditional/Simplified Chinese handling.

We use OpenCC (the `opencc` package, the reference implementation's official
Python binding) rather than a character table of our own: it converts phrases,
not just characters, and is what the handbook itself was cleaned with.
Converters are built on first use, never at import time.
"""
from __future__ import annotations

import enum
import re
from functools import lru_cache
from typing import Iterable, Optional


class Script(str, enum.Enum):
    SIMPLIFIED = "simplified"
    TRADITIONAL = "traditional"


@lru_cache(maxsize=None)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text) if text else text


_NOT_WORDS = re.compile(r"[\W_]+")


def bare_words(text: str) -> str:
    """Simplified, without spaces or punctuation: for matching short replies
    such as "返回機器人！" against a list of words."""
    return _NOT_WORDS.sub("", to_simplified(text or ""))


def to_traditional(text: str) -> str:
    return _converter("s2tw").convert(text) if text else text


def _changed_chars(original: str, converted: str) -> int:
    if len(original) != len(converted):
        return sum(1 for ch in original if _converter("t2s").convert(ch) != ch)
    return sum(1 for a, b in zip(original, converted) if a != b)


def detect_script(text: str) -> Optional[Script]:
    """The script `text` is written in, or None when it cannot tell.

    A text is Traditional when it has more characters that only exist in
    Traditional script than characters that only exist in Simplified script.
    Text made only of characters common to both (你好, 好的) or of no Chinese
    at all (a button payload, "ok") says nothing.
    """
    if not text:
        return None
    traditional_only = _changed_chars(text, _converter("t2s").convert(text))
    simplified_only = _changed_chars(text, _converter("s2t").convert(text))
    if traditional_only > simplified_only:
        return Script.TRADITIONAL
    if simplified_only > traditional_only:
        return Script.SIMPLIFIED
    return None


def customer_script(user_texts_newest_first: Iterable[str]) -> Script:
    """The script to answer in: that of the customer's latest telling message."""
    for text in user_texts_newest_first:
        script = detect_script(text or "")
        if script is not None:
            return script
    return Script.SIMPLIFIED


def in_script(text: str, script: Script) -> str:
    """Render bot text (always authored in Simplified) in the customer's script."""
    return to_traditional(text) if script is Script.TRADITIONAL else text


def message_in_script(message: dict, script: Script) -> dict:
    """A bot message (text and buttons) rendered in the customer's script.

    Button payloads that are plain questions are converted too, so that a
    click reads like the customer's own words; ``/intent`` payloads are left.
    """
    if script is not Script.TRADITIONAL:
        return message
    converted = dict(message)
    if converted.get("text"):
        converted["text"] = to_traditional(converted["text"])
    if converted.get("buttons"):
        converted["buttons"] = [
            {
                **button,
                "title": to_traditional(button.get("title", "")),
                "payload": button.get("payload", "")
                if str(button.get("payload", "")).startswith("/")
                else to_traditional(str(button.get("payload", ""))),
            }
            for button in converted["buttons"]
        ]
    return converted
