"""The handoff actions against a real database (SQLite and PostgreSQL): what
the customer is told in and out of service hours, the case the bot opens,
the summary the agent reads, and the satisfaction rating after a close.

The clock stands at FIXED (Monday 30 November 2026, 9:30, in service hours)
unless a test moves it."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import List

import pytest
from rasa_sdk.events import ConversationPaused, SlotSet
from sqlalchemy import select

from action_fixtures import FIXED, SHANGHAI, actions_db, run, tracker_builder  # noqa: F401
from actions import texts
from actions.action_faq_followup import ActionFaqFollowup
from actions.action_handoff import ActionHandoff
from actions.action_rate_service import ActionRateService
from actions.action_save_satisfaction_comment import ActionSaveSatisfactionComment
from actions.validate_satisfaction_comment_form import ValidateSatisfactionCommentForm
from bot.booking.calendar import ServiceCalendar
from bot.db.engine import unit_of_work
from bot.handoff.models import Case, CasePriority, CaseStatus, HandoffReason
from bot.handoff.repositories import AgentRepository, CaseRepository
from db_fixtures import database_url, postgres_database_url  # noqa: F401

tracker = tracker_builder(intent="request_human", form=None)
# Saturday 28 November 2026, 23:00: no human service until Monday 9:00.
SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 0, tzinfo=SHANGHAI)


def cases(url: str) -> List[Case]:
    with unit_of_work(url) as session:
        found = list(session.execute(select(Case).order_by(Case.id)).scalars())
        for case in found:
            session.expunge(case)
        return found


def with_history(base, *events):
    """``base`` with earlier events before its latest message."""
    base.events[:0] = list(events)
    return base


def user(text: str, intent: str) -> dict:
    return {"event": "user", "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": 1.0}}}


def bot(text: str) -> dict:
    return {"event": "bot", "text": text}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def test_fixed_is_in_service_hours_and_saturday_night_is_not():
    calendar = ServiceCalendar(timezone="Asia/Shanghai")
    assert calendar.is_open(FIXED) and not calendar.is_open(SATURDAY_NIGHT)


async def test_in_hours_the_case_is_queued_and_the_conversation_paused(actions_db):
    messages, events = await run(ActionHandoff(), tracker("转人工"))
    [case] = cases(actions_db)
    assert (case.status, case.reason, case.priority) == (
        CaseStatus.WAITING, HandoffReason.REQUEST_HUMAN, CasePriority.NORMAL
    )
    assert case.conversation_id == "alice" and case.channel == "rest" and not case.off_hours
    assert messages[0]["text"] == (
        f"已为您转接人工客服，服务单号{case.number}。您前面还有0位客户，我们将在20分钟内响应您。"
        "排队期间可以直接输入您的问题，客服接入后都能看到；回复“取消”或“返回机器人”可回到智能客服。"
    )
    assert events == [SlotSet("handoff_reason", None), ConversationPaused()]


async def test_the_wait_is_estimated_from_recent_claims(actions_db):
    with unit_of_work(actions_db) as session:
        repo = CaseRepository(session)
        agent = AgentRepository(session).create("agent1", "李娜", "password-123456")
        calendar = ServiceCalendar(timezone="Asia/Shanghai")
        earlier = repo.open_case("bob", "rest", "request_human", {}, FIXED - timedelta(minutes=20), calendar)
        repo.claim(earlier, agent, FIXED - timedelta(minutes=14))  # waited 6 minutes
        repo.open_case("carol", "rest", "request_human", {}, FIXED - timedelta(minutes=2), calendar)
    messages, _ = await run(ActionHandoff(), tracker("人工"))
    assert "您前面还有1位客户，预计等待约12分钟。" in messages[0]["text"]


async def test_the_summary_tells_the_agent_what_happened(actions_db):
    history = with_history(
        tracker("转人工", verified_application="SQ202611200001", application_number="SQ202611200001"),
        user("我的申请怎么还没批下来", "check_application_status"),
        bot("您的申请正在审核中。"),
        action("action_application_status"),
    )
    await run(ActionHandoff(), history)
    [case] = cases(actions_db)
    assert case.summary["intent"] == "check_application_status"
    assert case.summary["question"] == "我的申请怎么还没批下来"  # not "转人工"
    assert case.summary["recent_questions"] == ["我的申请怎么还没批下来", "转人工"]
    assert case.summary["answers"] == ["您的申请正在审核中。"]
    assert case.summary["slots"] == {
        "application_number": "SQ202611200001", "verified_application": "SQ202611200001"
    }
    assert case.summary["verified"] is True


async def test_accepting_the_offer_after_two_misses_is_a_fallback_case(actions_db):
    offered = with_history(tracker("好的", intent="affirm"), action("utter_offer_human"))
    await run(ActionHandoff(), offered)
    assert cases(actions_db)[0].reason is HandoffReason.FALLBACK


async def test_off_hours_the_customer_chooses_and_nothing_is_opened_yet(actions_db, monkeypatch):
    monkeypatch.setattr("bot.clock.now", lambda: SATURDAY_NIGHT)
    messages, events = await run(ActionHandoff(), tracker("转人工"))
    assert cases(actions_db) == []
    assert "工作日9:00-22:00" in messages[0]["text"]
    assert "11月30日（周一）9:00" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "/leave_message", "/book_appointment", "/deny"
    ]
    assert events == [SlotSet("handoff_reason", "request_human")]

    # "留言，请客服回电": a case for Monday morning, the conversation paused.
    left = tracker("/leave_message", intent="leave_message", handoff_reason="complaint")
    messages, events = await run(ActionHandoff(), left)
    [case] = cases(actions_db)
    assert case.off_hours and case.reason is HandoffReason.COMPLAINT
    assert case.status is CaseStatus.WAITING
    assert messages[0]["text"].startswith(f"已为您登记服务单{case.number}，客服将于11月30日（周一）9:00起")
    assert "11位手机号码" in messages[0]["text"]
    assert events[-1] == ConversationPaused()


async def test_off_hours_a_high_risk_customer_is_pointed_to_the_hotline(actions_db, monkeypatch):
    monkeypatch.setattr("bot.clock.now", lambda: SATURDAY_NIGHT)
    faq = tracker("我的账号好像被盗了", intent="faq")
    faq.latest_message["response_selector"] = {
        "faq": {"response": {"intent_response_key": "faq/info_leak"}}
    }
    messages, events = await run(ActionFaqFollowup(), faq)
    assert messages[0]["text"].startswith(texts.HANDOFF_OFF_HOURS_URGENT)
    assert events == [SlotSet("handoff_reason", "high_risk")]


async def test_a_complaint_answer_hands_over_at_once(actions_db):
    faq = tracker("我要投诉", intent="faq")
    faq.latest_message["response_selector"] = {
        "faq": {"response": {"intent_response_key": "faq/complaint_how"}}
    }
    messages, events = await run(ActionFaqFollowup(), faq)
    [case] = cases(actions_db)
    assert case.reason is HandoffReason.COMPLAINT and events[-1] == ConversationPaused()
    assert f"服务单号{case.number}" in messages[0]["text"]


async def test_a_returning_customer_gets_their_owner_back(actions_db):
    await run(ActionHandoff(), tracker("转人工"))
    with unit_of_work(actions_db) as session:
        repo = CaseRepository(session)
        agent = AgentRepository(session).create("agent1", "李娜", "password-123456")
        repo.claim(repo.active_for_conversation("alice"), agent, FIXED)
    messages, _ = await run(ActionHandoff(), tracker("我又来了，转人工"))
    [case] = cases(actions_db)
    assert messages[0]["text"] == f"您的服务单{case.number}仍在处理中，已为您接回负责的客服李娜，请直接留言。"


# --- satisfaction ---------------------------------------------------------------------------


def closed_case(url: str, conversation: str = "alice") -> str:
    calendar = ServiceCalendar(timezone="Asia/Shanghai")
    with unit_of_work(url) as session:
        repo = CaseRepository(session)
        agents = AgentRepository(session)
        agent = agents.by_username("agent1") or agents.create("agent1", "李娜", "password-123456")
        case = repo.open_case(conversation, "rest", "complaint", {}, FIXED - timedelta(minutes=30), calendar)
        repo.claim(case, agent, FIXED - timedelta(minutes=25))
        repo.close(case, agent, "已处理", FIXED - timedelta(minutes=5))
        return case.number


rating = tracker_builder(intent="rate_service", form=None)


def button(score: str):
    """The satisfaction button's message: /rate_service{"satisfaction_score":"N"}."""
    return rating(f'/rate_service{{"satisfaction_score":"{score}"}}',
                  entities=[{"entity": "satisfaction_score", "value": score}])


async def test_a_rating_from_the_buttons_is_stored_once(actions_db):
    number = closed_case(actions_db)
    messages, events = await run(ActionRateService(), button("4"))
    assert messages == []  # the comment form asks next
    assert events == [SlotSet("satisfaction_case", number), SlotSet("satisfaction_comment", None)]
    [case] = cases(actions_db)
    assert case.satisfaction_score == 4

    again, events = await run(ActionRateService(), button("5"))
    assert again[0]["text"] == texts.SATISFACTION_NOT_FOUND
    assert events[0] == SlotSet("satisfaction_case", None)
    assert cases(actions_db)[0].satisfaction_score == 4


@pytest.mark.parametrize("score", ["1", "3", "5"])
async def test_each_button_score_is_stored(actions_db, score):
    closed_case(actions_db)
    await run(ActionRateService(), button(score))
    assert cases(actions_db)[0].satisfaction_score == int(score)


@pytest.mark.parametrize("entities", [[], [{"entity": "satisfaction_score", "value": "7"}]])
async def test_a_message_without_a_valid_score_stores_nothing(actions_db, entities):
    closed_case(actions_db)
    messages, _ = await run(ActionRateService(), rating("/rate_service", entities=entities))
    assert messages[0]["text"] == texts.SATISFACTION_NOT_FOUND
    assert cases(actions_db)[0].satisfaction_score is None


async def test_the_comment_is_optional(actions_db):
    number = closed_case(actions_db)
    await run(ActionRateService(), button("4"))
    form = ValidateSatisfactionCommentForm()
    starting = tracker_builder(intent="rate_service", form="satisfaction_comment_form")("4分")
    # The rating message that starts the form is not its comment: the form asks.
    assert form.validate_satisfaction_comment("4分", None, starting, {}) == {"satisfaction_comment": None}

    asked = {"requested_slot": "satisfaction_comment"}
    comment = tracker_builder(intent="faq", form="satisfaction_comment_form")
    validated = form.validate_satisfaction_comment("等太久了", None, comment("等太久了", **asked), {})
    assert validated == {"satisfaction_comment": "等太久了"}
    declined = tracker_builder(intent="deny", form="satisfaction_comment_form")
    for refusal in ("/deny", "不用了。", "沒有"):
        assert form.validate_satisfaction_comment(refusal, None, declined(refusal, **asked), {}) == {
            "satisfaction_comment": ""
        }
    unhappy = "不满意，太慢了"  # words, not a "no", even if NLU reads it as deny
    assert form.validate_satisfaction_comment(unhappy, None, declined(unhappy, **asked), {}) == {
        "satisfaction_comment": unhappy
    }

    saved = tracker_builder(intent="faq", form=None)
    messages, events = await run(
        ActionSaveSatisfactionComment(),
        saved("等太久了", satisfaction_case=number, satisfaction_comment="等太久了"),
    )
    assert messages[0]["text"] == texts.SATISFACTION_COMMENT_SAVED
    assert cases(actions_db)[0].satisfaction_comment == "等太久了"
    assert events == [SlotSet("satisfaction_case", None), SlotSet("satisfaction_comment", None)]


async def test_no_comment_is_asked_without_a_rating(actions_db):
    form = ValidateSatisfactionCommentForm()
    empty = tracker_builder(intent="rate_service", form="satisfaction_comment_form")("5分")
    assert await form.required_slots(["satisfaction_comment"], None, empty, {}) == []
    rated = tracker_builder(intent="rate_service", form="satisfaction_comment_form")(
        "5分", satisfaction_case="HD202611300001"
    )
    assert await form.required_slots(["satisfaction_comment"], None, rated, {}) == [
        "satisfaction_comment"
    ]
