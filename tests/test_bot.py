"""Conversations with the real Rasa server and action server (see conftest.bot)."""
from __future__ import annotations

import pytest

from bot.chat import send
from bot.faq.library import load_library
from bot.script import Script, in_script, to_traditional
from tests.conftest import parse

pytestmark = pytest.mark.server

# Vague lines a customer might type; the bot should be unsure about some.
VAGUE = ["这个怎么弄", "有个事情想问", "能不能", "费用", "时间", "怎么办", "我想问问", "流程", "多久", "查询", "服务"]


@pytest.fixture(scope="module")
def library(settings):
    return load_library(settings.faq_dir)


@pytest.fixture(scope="module")
def entries(library):
    return library.by_id()


def texts(messages):
    return [m.get("text") for m in messages]


def buttons(messages):
    return [(b["title"], b["payload"]) for m in messages for b in m.get("buttons") or []]


def question_buttons(entries, ids):
    return [(entries[i].question, entries[i].question) for i in ids]


def answer_of(entries, messages):
    """The library entry whose answer the bot gave, if any."""
    for message in messages:
        for entry in entries.values():
            if message.get("text") in (entry.answer, to_traditional(entry.answer)):
                return entry.id
    return None


def vague_lines(bot, count):
    unsure = [t for t in VAGUE if parse(bot, t)["intent"]["name"] == "nlu_fallback"]
    assert len(unsure) >= count, f"expected vague lines to be unsure, got {unsure}"
    return unsure[:count]


def test_greeting_offers_the_featured_questions(bot, sender, library, entries):
    messages = send(bot.rasa_url, sender, "你好")
    assert messages[0]["text"].startswith("您好，我是金融客服助手")
    assert buttons(messages) == question_buttons(entries, library.featured)


def test_an_faq_question_gets_its_answer_and_related_questions(bot, sender, entries):
    messages = send(bot.rasa_url, sender, "请问你们人工客服周一到周五几点上班")
    assert answer_of(entries, messages) == "service_hours"
    assert messages[0]["text"] == entries["service_hours"].answer
    assert messages[1]["text"] == "您可能还想了解："
    assert buttons(messages) == question_buttons(entries, entries["service_hours"].related)


def test_clicking_a_related_question_answers_it(bot, sender, entries):
    first = send(bot.rasa_url, sender, "转账收不收手续费")
    assert answer_of(entries, first) == "transfer_fee"
    title, payload = buttons(first)[0]
    chosen = entries["transfer_fee"].related[0]
    assert title == entries[chosen].question
    assert answer_of(entries, send(bot.rasa_url, sender, payload)) == chosen


def test_every_standard_question_leads_to_its_own_answer(bot, entries):
    """Buttons send standard questions: each must be answered, not guessed."""
    wrong = {}
    for entry in entries.values():
        result = parse(bot, entry.question)
        chosen = result["response_selector"]["faq"]["response"]["intent_response_key"]
        if result["intent"]["name"] != "faq" or chosen != f"faq/{entry.id}":
            wrong[entry.id] = (result["intent"]["name"], chosen)
    assert wrong == {}


def test_unsure_the_bot_asks_did_you_mean_with_three_choices(bot, sender, entries):
    [line] = vague_lines(bot, 1)
    expected = [
        c["intent_response_key"].split("/", 1)[1]
        for c in parse(bot, line)["response_selector"]["faq"]["ranking"][:3]
    ]
    messages = send(bot.rasa_url, sender, line)
    assert answer_of(entries, messages) is None
    assert messages[0]["text"].endswith("您是不是想问：")
    questions = [b for b in buttons(messages) if not b[1].startswith("/") or b[1] == "/deny"]
    assert questions == [*question_buttons(entries, expected), ("都不是", "/deny")]
    # choosing one answers it
    assert answer_of(entries, send(bot.rasa_url, sender, entries[expected[1]].question)) == expected[1]


def test_none_of_these_asks_to_rephrase(bot, sender):
    [line] = vague_lines(bot, 1)
    send(bot.rasa_url, sender, line)
    messages = send(bot.rasa_url, sender, "/deny")
    assert texts(messages) == ["抱歉，没能准确理解您的问题。请换个说法再描述一下；也可以回复“转人工”。"]


def test_two_fallbacks_in_a_row_offer_a_human(bot, sender):
    first, second = vague_lines(bot, 2)
    assert "您是不是想问" in send(bot.rasa_url, sender, first)[0]["text"]
    offer = send(bot.rasa_url, sender, second)
    assert texts(offer) == ["抱歉，我暂时没能理解您的问题。需要为您转接人工服务吗？"]
    assert buttons(offer) == [("转人工", "/request_human"), ("不用了", "/deny")]
    # Taking the offer hands over: test_handoff_e2e (its clock is in service hours).


@pytest.mark.parametrize("line", ["今天北京天气怎么样", "推荐一只明天会涨的股票", "给我讲个笑话吧"])
def test_out_of_scope_is_declined_politely_never_answered(bot, sender, entries, line):
    messages = send(bot.rasa_url, sender, line)
    assert answer_of(entries, messages) is None
    assert messages[0]["text"].startswith("抱歉，这个问题不在我的服务范围内")
    assert "转人工" in messages[0]["text"]


def test_bot_challenge(bot, sender):
    [message] = send(bot.rasa_url, sender, "你是机器人吗")
    assert "智能客服助手，不是真人" in message["text"]


def test_traditional_in_traditional_out(bot, sender, entries):
    messages = send(bot.rasa_url, sender, "請問你們人工客服幾點上班")
    assert messages[0]["text"] == in_script(entries["service_hours"].answer, Script.TRADITIONAL)
    assert messages[1]["text"] == "您可能還想了解："
    related = entries["service_hours"].related[0]
    title, payload = buttons(messages)[0]
    assert title == payload == to_traditional(entries[related].question)
    # a click on a Traditional button keeps the conversation in Traditional
    followup = send(bot.rasa_url, sender, payload)
    assert followup[0]["text"] == to_traditional(entries[related].answer)


def test_simplified_customer_stays_simplified(bot, sender, entries):
    send(bot.rasa_url, sender, "請問你們人工客服幾點上班")
    messages = send(bot.rasa_url, sender, "转账收不收手续费")
    assert messages[0]["text"] == entries["transfer_fee"].answer


@pytest.mark.parametrize(
    "line",
    ["", "   ", "？？？", "😀😀😀", "<script>alert(1)</script>", "啊" * 5000, '/faq{"x": ', "/no_such_intent"],
)
def test_bad_input_gets_a_polite_answer(bot, sender, line):
    messages = send(bot.rasa_url, sender, line)
    assert messages, "the customer must get an answer"
    for message in messages:
        text = message.get("text") or ""
        assert text and "Traceback" not in text and "Error" not in text
    # and the conversation goes on normally afterwards
    assert send(bot.rasa_url, sender, "你好")[0]["text"].startswith("您好")
