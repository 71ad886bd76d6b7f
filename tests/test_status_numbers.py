"""Reading application numbers and phone digits out of what customers type."""
from __future__ import annotations

import pytest

from bot.status.numbers import find_application_number, find_phone_last4, looks_like_application_number


@pytest.mark.parametrize(
    "text",
    [
        "帮我查下 SQ2026 1128 0001 的进度",
        "sq-20261128-0001",
        "ＳＱ２０２６１１２８０００１",  # full-width
        "SQ202611280001",
    ],
)
def test_application_number_in_any_typing(text):
    assert find_application_number(text) == "SQ202611280001"


@pytest.mark.parametrize(
    "text",
    [
        "SQ20261128000",  # 11 digits
        "SQ2026112800012",  # 13 digits: not cut down to 12
        "我想查一下申请进度",
        "",
    ],
)
def test_no_application_number(text):
    assert find_application_number(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SQ20261128000", True),  # an attempt, badly formed
        ("我的单号是sq123", True),
        ("2026112800", True),  # a long digit run
        ("ＳＱ２０２６", True),
        ("12345", False),
        ("我想查一下申请进度", False),
        ("", False),
    ],
)
def test_looks_like_application_number(text, expected):
    assert looks_like_application_number(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5678", "5678"),
        ("尾号5678", "5678"),
        ("１２３４", "1234"),  # full-width
        ("13812345678", "5678"),  # whole mobile number typed by mistake
        ("12345", None),
        ("12 34", None),  # two groups
        ("1234 5678", None),
        ("23812345678", None),  # 11 digits but not a mobile number
        ("", None),
        ("不知道", None),
    ],
)
def test_phone_last4(text, expected):
    assert find_phone_last4(text) == expected
