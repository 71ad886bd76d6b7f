"""Masking of personal data for replies, logs and transcripts.

    mask_phone("13812345678")          -> "138****5678"
    mask_id_card("110101199003071234") -> "110***********1234"
    mask_card_number("6222021234567890") -> "************7890"
    mask_name("张三丰")                  -> "张**"
    mask_text("电话13812345678")          -> "电话138****5678"

``mask_text`` finds mainland mobile numbers (also "+86 138 1234 5678" and
"138-1234-5678"), 18-character ID numbers (last character may be X) and 16–19
digit bank card numbers (also in groups of four) inside free text, written
with half- or full-width digits. Application numbers ("SQ2026…") and booking
codes are left alone: a digit run glued to a letter is not personal data.
"""
from __future__ import annotations

import re

MASK = "*"

# Full-width digits and X have the same length as their ASCII forms, so the
# matches found in the translated text are spans of the original text.
_TO_ASCII = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789Xx")

_NOT_AFTER = r"(?<![0-9A-Za-z])"
_NOT_BEFORE = r"(?![0-9A-Za-z])"
_PERSONAL_NUMBER = re.compile(
    _NOT_AFTER
    + r"(?:"
    + r"(?P<id_card>\d{17}[\dXx])"
    + r"|(?P<card>\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?|\d{16,19})"
    + r"|(?P<phone_prefix>\+?86[ -]?)?(?P<phone>1[3-9]\d(?:[ -]?\d{4}){2})"
    + r")"
    + _NOT_BEFORE,
    re.ASCII,
)
_ID_CARD_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CARD_CHECK_CHARACTERS = "10X98765432"


def _digits(value: str) -> str:
    """ASCII digits (and X) only: "138-1234-5678" → "13812345678"."""
    return re.sub(r"[^0-9X]", "", value.translate(_TO_ASCII).upper())


def _keep_ends(value: str, head: int, tail: int) -> str:
    """Mask all but ``head`` leading and ``tail`` trailing characters; a value
    too short to keep anything is masked whole."""
    if len(value) <= head + tail:
        return MASK * len(value)
    return value[:head] + MASK * (len(value) - head - tail) + value[len(value) - tail:]


def mask_phone(phone: str) -> str:
    return _keep_ends(_digits(phone), 3, 4)


def mask_id_card(id_card_number: str) -> str:
    return _keep_ends(_digits(id_card_number), 3, 4)


def mask_card_number(card_number: str) -> str:
    return _keep_ends(_digits(card_number), 0, 4)


def mask_identifier(identifier: str) -> str:
    """A conversation id for logs (a WeChat OpenID is personal data): the
    first and last 3 characters, the length hidden: "oAbxxxxxxxyz9" → "oAb***yz9"."""
    if len(identifier) <= 8:
        return MASK * 3
    return f"{identifier[:3]}{MASK * 3}{identifier[-3:]}"


def mask_name(name: str) -> str:
    """Keep the first character (the surname, mostly): "张三" → "张*"."""
    name = name.strip()
    if len(name) <= 1:
        return MASK * len(name)
    return name[0] + MASK * (len(name) - 1)


def id_card_check_character(first_17_digits: str) -> str:
    """The 18th character of a resident ID number (GB 11643, ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_17_digits, _ID_CARD_WEIGHTS))
    return _ID_CARD_CHECK_CHARACTERS[total % 11]


def is_valid_id_card_number(id_card_number: str) -> bool:
    value = _digits(id_card_number)
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    return id_card_check_character(value[:17]) == value[-1]


def holds_personal_number(text: str) -> bool:
    """Whether ``text`` holds a phone, ID or card number (as ``mask_text`` finds them)."""
    return _PERSONAL_NUMBER.search(text.translate(_TO_ASCII)) is not None


def mask_text(text: str) -> str:
    """``text`` with every phone, ID and card number in it masked."""
    searchable = text.translate(_TO_ASCII)
    pieces, position = [], 0
    for match in _PERSONAL_NUMBER.finditer(searchable):
        pieces.append(text[position:match.start()])
        pieces.append(_masked(match, text))
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _masked(match: re.Match, original: str) -> str:
    if match.group("phone"):
        prefix = original[match.start() : match.start("phone")]
        return prefix + mask_phone(match.group("phone"))
    number = match.group("id_card") or match.group("card")
    # 18 digits are an ID number when they end in X or carry a valid check
    # character, a card number otherwise; both are masked either way.
    if match.group("id_card") and (number[-1] in "Xx" or is_valid_id_card_number(number)):
        return mask_id_card(number)
    return mask_card_number(number)

