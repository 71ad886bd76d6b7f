"""Masking of phone, ID and card numbers and names."""
from __future__ import annotations

import pytest

from bot.privacy import (
    holds_personal_number,
    id_card_check_character,
    is_valid_id_card_number,
    mask_card_number,
    mask_id_card,
    mask_name,
    mask_phone,
    mask_text,
)

VALID_ID = "11010519491231002X"  # the standard's own example
VALID_DIGIT_ID = "330106199001011248"


@pytest.mark.parametrize("text, holds", [
    ("我的手机号是13812345678", True),
    ("手机 138-1234-5678", True),
    ("身份证" + VALID_ID, True),
    ("卡号６２２２０２１２３４５６７８９０", True),  # full-width digits
    ("查进度 SQ202611200003", False),  # an application number is not personal data
    ("尾号5678", False),
    ("你好", False),
])
def test_holds_personal_number(text, holds):
    assert holds_personal_number(text) is holds
    assert (mask_text(text) != text) is holds


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_phone("123") == "***"


def test_mask_id_card():
    assert mask_id_card("110101199003071234") == "110***********1234"
    assert mask_id_card(VALID_ID) == "110***********002X"
    assert mask_id_card("11010519491231002x") == "110***********002X"


def test_mask_card_number():
    assert mask_card_number("6222021234567890") == "************7890"
    assert mask_card_number("6222 0212 3456 7890 123") == "***************0123"


@pytest.mark.parametrize(
    "name, masked",
    [("张三丰", "张**"), ("张三", "张*"), ("欧阳娜娜", "欧***"), (" 李四 ", "李*"), ("王", "*"), ("", "")],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_id_card_check_character():
    assert id_card_check_character(VALID_ID[:17]) == "X"
    assert is_valid_id_card_number(VALID_ID)
    assert is_valid_id_card_number(VALID_DIGIT_ID)
    assert not is_valid_id_card_number("330106199001011249")
    assert not is_valid_id_card_number("3301061990010112")


@pytest.mark.parametrize(
    "text, masked",
    [
        ("我的手机是13812345678，谢谢", "我的手机是138****5678，谢谢"),
        ("电话 +86 138 1234 5678", "电话 +86 138****5678"),
        ("电话8613912345678", "电话86139****5678"),
        ("电话138-1234-5678", "电话138****5678"),
        ("全角１３８１２３４５６７８", "全角138****5678"),
        (f"身份证{VALID_ID}", "身份证110***********002X"),
        (f"身份证号：{VALID_DIGIT_ID}。", "身份证号：330***********1248。"),
        ("卡号6222021234567890", "卡号************7890"),
        ("卡号 6222 0212 3456 7890 请查", "卡号 ************7890 请查"),
        ("卡号6222021234567890123", "卡号***************0123"),
        # 18 digits that are no valid ID number: masked as a card number.
        ("卡号622202123456789012", "卡号**************9012"),
        (
            "手机13812345678和13987654321",
            "手机138****5678和139****4321",
        ),
    ],
)
def test_mask_text_masks_personal_numbers(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "申请编号SQ202611280001",
        "申请编号 sq202611280001",
        "预约码YY2K7MPQ",
        "金额50000元，2026年11月28日10:00",
        "订单号12345678901234",  # 14 digits: neither phone, ID nor card
        "12812345678 is not a mobile number",
        "",
    ],
)
def test_mask_text_leaves_other_text_alone(text):
    assert mask_text(text) == text
