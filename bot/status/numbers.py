"""Find the numbers customers type inside a sentence.

Customers write an application number as "SQ2026 1128 0001", "sq-20261128-0001"
or in full-width digits ("ＳＱ２０２６…"); NFKC folds full-width forms to ASCII,
then spaces and dashes between the digits are dropped.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

# "SQ" + submission date (YYYYMMDD) + 4-digit serial, with any spacing/dashes.
_APPLICATION_NUMBER = re.compile(r"SQ[\s\-_－—]*((?:\d[\s\-_－—]*){12})(?!\d)", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"\d+")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def find_application_number(text: str) -> Optional[str]:
    """The canonical number ("SQ202611280001") in ``text``, or None."""
    match = _APPLICATION_NUMBER.search(_fold(text))
    if not match:
        return None
    return "SQ" + re.sub(r"\D", "", match.group(1))


def looks_like_application_number(text: str) -> bool:
    """True when the customer seems to have tried to give a number (SQ or a long
    digit run) that is not well formed, so the bot can explain the format."""
    folded = _fold(text)
    return bool(re.search(r"sq", folded, re.IGNORECASE) or re.search(r"\d{6,}", folded))


def find_phone_last4(text: str) -> Optional[str]:
    """The last four digits of a phone number: a lone 4-digit group, or the end
    of a full 11-digit mobile number typed by mistake. Anything else is None."""
    runs = _DIGIT_RUN.findall(_fold(text))
    if len(runs) != 1:
        return None
    digits = runs[0]
    if len(digits) == 4:
        return digits
    if len(digits) == 11 and digits.startswith("1"):
        return digits[-4:]
    return None
