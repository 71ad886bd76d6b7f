"""Application status through the real servers and the seeded database
(handbook 2.4-2.5): nothing is shown before the phone check, three failures
lock, FAQ digressions and "算了" work inside the form."""
from __future__ import annotations

import pytest

from bot.chat import send
from bot.db.engine import unit_of_work
from bot.db.seed import demo_applications

pytestmark = pytest.mark.server

ASK_PHONE = "为保护您的信息安全，请输入该申请登记手机号的后4位。"
ASK_NUMBER = "请提供您的申请编号"
FAILED = "信息核验未通过"
LOCKED = "查询已暂时锁定"


@pytest.fixture(scope="module")
def demo(bot):
    with unit_of_work(bot.database_url) as session:
        rows = demo_applications(session, per_status=3)
    return {row.status_label: [r for r in rows if r.status_label == row.status_label] for row in rows}


def text_of(messages):
    return "\n".join(m.get("text") or "" for m in messages)


def spaced(number: str) -> str:
    """SQ202611280001 -> "SQ2026 1128 0001", as customers type it."""
    return f"{number[:6]} {number[6:10]} {number[10:]}"


def wrong_digits(last4: str) -> str:
    return f"{(int(last4) + 1) % 10000:04d}"


def test_status_is_shown_only_after_the_phone_check(bot, sender, demo):
    application = demo["审核中"][0]
    asked = send(bot.rasa_url, sender, f"帮我查下 {spaced(application.number)} 的进度")
    assert text_of(asked) == ASK_PHONE  # nothing about the application yet
    answer = text_of(send(bot.rasa_url, sender, application.phone_last4))
    assert "当前状态：审核中" in answer
    assert application.service_name in answer
    assert application.number not in answer  # masked
    assert application.number[:6] + "****" + application.number[-4:] in answer
    assert "办理结果将通过" in answer


def test_full_width_number_and_missing_materials(bot, sender, demo):
    application = demo["补充材料"][0]
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in application.number)
    assert text_of(send(bot.rasa_url, sender, f"我的申请{full_width}怎么样了")) == ASK_PHONE
    answer = text_of(send(bot.rasa_url, sender, f"尾号{application.phone_last4}"))
    assert "当前状态：待补充材料" in answer
    assert "请尽快补充以下材料" in answer


def test_asking_without_a_number_asks_for_it(bot, sender, demo):
    application = demo["已完成"][0]
    assert ASK_NUMBER in text_of(send(bot.rasa_url, sender, "帮我查一下我的申请进度"))
    reply = text_of(send(bot.rasa_url, sender, "SQ123"))
    assert "申请编号以SQ开头" in reply
    assert text_of(send(bot.rasa_url, sender, application.number)) == ASK_PHONE
    assert "当前状态：已完成" in text_of(send(bot.rasa_url, sender, application.phone_last4))


def test_unknown_number_fails_exactly_like_a_wrong_phone(bot, demo):
    real = demo["受理"][0]
    unknown = "SQ209901010001"
    replies = []
    for number, digits in ((real.number, wrong_digits(real.phone_last4)), (unknown, "1234")):
        sender = f"test-enum-{number}"
        assert text_of(send(bot.rasa_url, sender, f"查询申请 {number}")) == ASK_PHONE
        replies.append(text_of(send(bot.rasa_url, sender, digits)))
    assert replies[0] == replies[1]
    assert FAILED in replies[0] and "还可尝试2次" in replies[0]


def test_three_failures_lock_the_conversation_and_the_application(bot, sender, demo):
    application = demo["已批准"][0]
    send(bot.rasa_url, sender, f"查进度 {application.number}")
    wrong = wrong_digits(application.phone_last4)
    assert "还可尝试2次" in text_of(send(bot.rasa_url, sender, wrong))
    assert "还可尝试1次" in text_of(send(bot.rasa_url, sender, wrong))
    locked = send(bot.rasa_url, sender, wrong)
    assert LOCKED in text_of(locked)
    assert ("转人工", "/request_human") in [(b["title"], b["payload"]) for m in locked for b in m.get("buttons") or []]
    # The right digits now change nothing, in this conversation...
    send(bot.rasa_url, sender, f"查进度 {application.number}")
    assert "当前状态" not in text_of(send(bot.rasa_url, sender, application.phone_last4))
    # ...nor in another one asking for the same application.
    other = sender + "-again"
    reply = text_of(send(bot.rasa_url, other, f"查进度 {application.number}"))
    if reply == ASK_PHONE:
        reply = text_of(send(bot.rasa_url, other, application.phone_last4))
    assert LOCKED in reply and "当前状态" not in reply


def test_an_faq_question_inside_the_form_is_answered_and_the_form_resumes(bot, sender, demo):
    application = demo["已退回"][0]
    assert text_of(send(bot.rasa_url, sender, f"帮我查 {application.number}")) == ASK_PHONE
    digression = text_of(send(bot.rasa_url, sender, "人工服务时间是什么时候"))
    assert "9:00-22:00" in digression
    assert digression.endswith(ASK_PHONE)
    assert "当前状态：已退回" in text_of(send(bot.rasa_url, sender, application.phone_last4))


def test_giving_up_leaves_the_form(bot, sender, demo):
    application = demo["审核中"][1]
    send(bot.rasa_url, sender, f"查一下 {application.number}")
    assert "已为您退出" in text_of(send(bot.rasa_url, sender, "不查了"))
    # Digits now are not taken as a verification of the abandoned number.
    assert "当前状态" not in text_of(send(bot.rasa_url, sender, application.phone_last4))
