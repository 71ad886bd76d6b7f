"""WeChat text rendering: numbered choices, splitting under 2048 bytes,
reading a customer's number."""
from __future__ import annotations

import pytest

from bot.channels.wechat_choices import chosen_number
from bot.channels.wechat_render import MAX_TEXT_BYTES, BotMessage, Numbering, from_rasa, split_text


def test_buttons_become_numbered_choices_under_the_text():
    numbering = Numbering()
    text = numbering.render(BotMessage("猜你想问：", [
        {"title": "人工客服几点上班", "payload": "人工客服几点上班"},
        {"title": "预约", "payload": "/book_appointment"},
    ]))
    assert text == "猜你想问：\n回复数字即可：\n1. 人工客服几点上班\n2. 预约"
    assert numbering.payloads == ["人工客服几点上班", "/book_appointment"]


def test_numbers_continue_across_the_messages_of_one_turn():
    numbering = Numbering()
    text = numbering.render_all([
        BotMessage("答案。"),
        BotMessage("您可能还想了解：", [{"title": "甲", "payload": "a"}]),
        BotMessage("其他：", [{"title": "乙", "payload": "b"}]),
    ])
    assert text == "答案。\n\n您可能还想了解：\n回复数字即可：\n1. 甲\n\n其他：\n回复数字即可：\n2. 乙"
    assert numbering.payloads == ["a", "b"]


def test_traditional_messages_get_a_traditional_prompt():
    text = Numbering().render(BotMessage("您好，請問有什麼可以幫您？", [{"title": "轉人工", "payload": "/request_human"}]))
    assert "回覆數字即可：" in text


def test_rasa_messages_keep_text_buttons_and_links():
    assert from_rasa({"text": "你好"}) == BotMessage("你好", [])
    assert from_rasa({"text": "看图", "image": "https://example.com/a.png"}).text == "看图\nhttps://example.com/a.png"
    assert from_rasa({"text": "选", "quick_replies": [{"title": "是", "payload": "/affirm"}]}).buttons[0]["payload"] == "/affirm"
    assert from_rasa({"text": "", "custom": {"x": 1}}) is None
    assert from_rasa({"text": "x", "buttons": [{"title": "no payload"}]}).buttons == []


@pytest.mark.parametrize("text", [
    "金融" * 2000,                                # 3-byte characters only
    ("第一段。" * 100 + "\n") * 30,               # lines and sentences
    "a" + "😀" * 1500,                            # 4-byte characters, off by one
    "x" * 5000,                                   # no break at all
    "短文本",
])
def test_long_text_is_split_under_2048_bytes_between_characters(text):
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(0 < len(p.encode("utf-8")) < 2048 for p in pieces)
    assert all(len(p.encode("utf-8")) <= MAX_TEXT_BYTES for p in pieces)


def test_long_text_is_cut_after_a_line_or_sentence_where_it_can_be():
    text = ("这是一段说明文字，用于测试。" * 40 + "\n") * 5
    pieces = split_text(text)
    assert len(pieces) > 1
    assert all(p.endswith("\n") for p in pieces[:-1])
    sentences = "这是一句很长的说明。" * 300
    assert all(p.endswith("。") for p in split_text(sentences))


@pytest.mark.parametrize("reply, number", [
    ("1", 1), ("２", 2), (" 3 ", 3), ("4.", 4), ("5、", 5), ("12", 12),
    ("123", None), ("1a", None), ("一", None), ("", None), ("5678", None),
])
def test_a_customers_number_is_read_in_its_usual_forms(reply, number):
    assert chosen_number(reply) == number
