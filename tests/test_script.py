"""Traditional input is understood and answered in Traditional."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.faq.library import load_library
from bot.nlu.normalizer import ScriptNormalizer
from bot.script import (
    Script,
    customer_script,
    detect_script,
    in_script,
    message_in_script,
    to_simplified,
)


@pytest.mark.parametrize(
    "text, script",
    [
        ("請問人工客服幾點下班", Script.TRADITIONAL),
        ("请问人工客服几点下班", Script.SIMPLIFIED),
        ("轉賬要手續費嗎", Script.TRADITIONAL),
        ("你好", None),  # the same in both scripts
        ("/greet", None),
        ("ok", None),
    ],
)
def test_detect_script(text, script):
    assert detect_script(text) == script


def test_the_latest_telling_message_decides():
    assert customer_script(["好的", "請問營業時間"]) is Script.TRADITIONAL
    assert customer_script(["请问营业时间", "請問營業時間"]) is Script.SIMPLIFIED
    assert customer_script(["/deny", "你好"]) is Script.SIMPLIFIED


def test_every_answer_survives_the_round_trip(settings):
    for entry in load_library(settings.faq_dir).entries:
        traditional = in_script(entry.answer, Script.TRADITIONAL)
        assert traditional != entry.answer
        assert to_simplified(traditional) == entry.answer, entry.id


def test_messages_are_rendered_with_their_buttons():
    message = {
        "text": "您可能还想了解：",
        "buttons": [
            {"title": "怎么预约办理业务？", "payload": "怎么预约办理业务？"},
            {"title": "都不是", "payload": "/deny"},
        ],
    }
    rendered = message_in_script(message, Script.TRADITIONAL)
    assert rendered["text"] == "您可能還想了解："
    assert rendered["buttons"][0] == {"title": "怎麼預約辦理業務？", "payload": "怎麼預約辦理業務？"}
    assert rendered["buttons"][1] == {"title": "都不是", "payload": "/deny"}
    assert message_in_script(message, Script.SIMPLIFIED) == message


def test_normalizer_reads_traditional_as_simplified_in_training_and_prediction():
    normalizer = ScriptNormalizer()
    training = TrainingData([Message({TEXT: "請問專屬客服多久回覆", "intent": "faq"})])
    normalizer.process_training_data(training)
    assert training.training_examples[0].get(TEXT) == "请问专属客服多久回复"
    [message] = normalizer.process([Message({TEXT: "轉賬手續費怎麼收"})])
    assert message.get(TEXT) == "转账手续费怎么收"
    [payload] = normalizer.process([Message({TEXT: '/faq{"x": "轉"}'})])
    assert payload.get(TEXT) == '/faq{"x": "轉"}'
