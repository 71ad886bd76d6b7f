"""Appointment booking through the real servers and the seeded database
(handbook 5.4): the form, the rules, the confirmation, change, cancel, the
reminder, and leaving or digressing mid-form.

Dates are chosen from today's calendar (the servers read the real clock), so
the tests hold on any day they run."""
from __future__ import annotations

import json
import re
import urllib.request
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot import clock
from bot.booking.calendar import get_calendar
from bot.chat import send
from bot.db.engine import unit_of_work
from bot.db.models import Appointment, AppointmentSlot, AppointmentStatus
from bot.db.repositories import AppointmentRepository

pytestmark = pytest.mark.server

CODE = re.compile(r"预约码：?(YY[A-Z0-9]{6})")
PHONE = "13812345678"


def text_of(messages):
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages):
    return [b["title"] for m in messages for b in m.get("buttons") or []]


def working_days(after_days: int, count: int):
    """The first ``count`` working days at least ``after_days`` from today."""
    calendar, day, found = get_calendar(), clock.now().date() + timedelta(days=after_days), []
    while len(found) < count:
        if calendar.is_working_day(day):
            found.append(day)
        day += timedelta(days=1)
    return found


def said(day: date) -> str:
    return f"{day.month}月{day.day}日"


def tracker(bot, sender):
    with urllib.request.urlopen(f"{bot.rasa_url}/conversations/{sender}/tracker", timeout=30) as response:
        return json.load(response)


def appointment(bot, code):
    with unit_of_work(bot.database_url) as session:
        found = AppointmentRepository(session).by_code(code)
        return found.status, found.slot.starts_at, found.slot.branch.name


def book(bot, sender, day: date, hour_text="上午10点", branch="滨江支行"):
    send(bot.rasa_url, sender, "我想预约开户")
    send(bot.rasa_url, sender, branch)
    send(bot.rasa_url, sender, f"{said(day)}{hour_text}")
    confirmation = text_of(send(bot.rasa_url, sender, PHONE))
    booked = text_of(send(bot.rasa_url, sender, "确认预约"))
    return confirmation, booked


def start_booking(bot, sender, text):
    """Ask to book; when the bot is unsure, it offers booking as a choice."""
    messages = send(bot.rasa_url, sender, text)
    offered = {b["title"]: b["payload"] for m in messages for b in m.get("buttons") or []}
    if "您是不是想问" in text_of(messages):
        assert offered.get("我要预约办理业务") == "/book_appointment"
        messages = send(bot.rasa_url, sender, "/book_appointment")
    return messages


def test_the_form_asks_step_by_step_and_books_after_confirmation(bot, sender):
    day = working_days(2, 1)[0]
    assert "哪项业务" in text_of(start_booking(bot, sender, "我想预约"))
    asked_branch = send(bot.rasa_url, sender, "开户")
    assert "视频客服" in buttons(asked_branch) and "滨江支行" in buttons(asked_branch)
    assert "什么时间" in text_of(send(bot.rasa_url, sender, "滨江支行"))
    assert "手机号码" in text_of(send(bot.rasa_url, sender, f"{said(day)}上午10点"))
    confirmation = send(bot.rasa_url, sender, PHONE)
    summary = text_of(confirmation)
    assert "请确认预约信息" in summary and "开户" in summary and "滨江支行" in summary
    assert "138****5678" in summary and PHONE not in summary
    assert f"{said(day)}" in summary and "10:00" in summary
    assert buttons(confirmation) == ["确认预约", "换个时间", "不约了"]
    booked = text_of(send(bot.rasa_url, sender, "确认预约"))
    code = CODE.search(booked).group(1)
    status, starts_at, branch = appointment(bot, code)
    assert status is AppointmentStatus.BOOKED and branch == "滨江支行"
    assert starts_at.astimezone(clock.now().tzinfo) == datetime(day.year, day.month, day.day, 10, tzinfo=clock.now().tzinfo)
    reminders = [e for e in tracker(bot, sender)["events"] if e["event"] == "reminder"]
    assert [r["name"] for r in reminders] == [f"appointment_{code}"]
    assert datetime.fromisoformat(reminders[0]["date_time"]) == starts_at - timedelta(minutes=60)


def test_one_sentence_fills_service_branch_and_time(bot, sender):
    day = working_days(2, 1)[0]
    reply = text_of(send(bot.rasa_url, sender, f"帮我约{said(day)}下午3点的信用卡业务，视频客服就行"))
    assert "手机号码" in reply  # service, channel and time were all taken
    summary = text_of(send(bot.rasa_url, sender, PHONE))
    assert "信用卡业务" in summary and "视频客服" in summary and "15:00" in summary


def test_a_closed_day_is_refused_with_open_alternatives(bot, sender):
    calendar, day = get_calendar(), clock.now().date() + timedelta(days=1)
    while calendar.is_working_day(day):
        day += timedelta(days=1)
    send(bot.rasa_url, sender, "预约开户")
    send(bot.rasa_url, sender, "老城支行")
    refused = send(bot.rasa_url, sender, f"{said(day)}上午10点")
    assert "不是工作日" in text_of(refused) or "休息" in text_of(refused) or "暂停" in text_of(refused)
    offered = buttons(refused)
    assert offered, "alternatives are offered as buttons"
    chosen = send(bot.rasa_url, sender, offered[0])
    assert "手机号码" in text_of(chosen)


def test_past_and_too_far_are_refused(bot, sender):
    send(bot.rasa_url, sender, "预约理财咨询")
    send(bot.rasa_url, sender, "高新区支行")
    assert "手机号码" not in text_of(send(bot.rasa_url, sender, "昨天上午10点"))
    far = clock.now().date() + timedelta(days=40)
    assert "30" in text_of(send(bot.rasa_url, sender, f"{far.year}年{said(far)}上午10点"))


def test_a_full_slot_offers_the_nearest_free_ones(bot, sender):
    with unit_of_work(bot.database_url) as session:
        full = session.execute(
            select(AppointmentSlot).where(
                AppointmentSlot.booked >= AppointmentSlot.capacity,
                AppointmentSlot.starts_at > clock.now() + timedelta(hours=2),
            )
        ).scalars().first()
        assert full is not None, "the seed leaves a fully booked slot"
        branch, start = full.branch.name, full.starts_at.astimezone(clock.now().tzinfo)
    send(bot.rasa_url, sender, "预约开户")
    send(bot.rasa_url, sender, branch)
    refused = send(bot.rasa_url, sender, f"{said(start.date())}{start:%H:%M}")
    assert "约满" in text_of(refused)
    offered = buttons(refused)
    assert offered and f"{start:%H:%M}" not in " ".join(b for b in offered if said(start.date()) in b)


def test_change_and_cancel_work_on_the_customers_own_booking(bot, sender):
    first, second = working_days(2, 2)
    _, booked = book(bot, sender, first)
    code = CODE.search(booked).group(1)
    confirmation = text_of(send(bot.rasa_url, sender, f"改到{said(second)}下午两点"))
    assert "请确认预约信息" in confirmation and "14:00" in confirmation
    moved = text_of(send(bot.rasa_url, sender, "确认预约"))
    assert "已为您改约" in moved and code in moved
    status, starts_at, _ = appointment(bot, code)
    assert starts_at.astimezone(clock.now().tzinfo).date() == second and starts_at.astimezone(clock.now().tzinfo).hour == 14
    cancelled = text_of(send(bot.rasa_url, sender, "取消预约"))
    assert "已为您取消预约" in cancelled and code in cancelled
    assert appointment(bot, code)[0] is AppointmentStatus.CANCELLED
    # (Rasa's tracker JSON drops a cancel_reminder's name; the event is there.)
    assert [e for e in tracker(bot, sender)["events"] if e["event"] == "cancel_reminder"]
    assert "没有查到您的有效预约" in text_of(send(bot.rasa_url, sender, "取消预约"))


def test_the_reminder_reaches_the_customer_when_it_fires(bot, sender):
    _, booked = book(bot, sender, working_days(2, 1)[0], "上午11点")
    code = CODE.search(booked).group(1)
    request = urllib.request.Request(
        f"{bot.rasa_url}/conversations/{sender}/trigger_intent?output_channel=latest",
        data=json.dumps({"name": "EXTERNAL_appointment_reminder", "entities": {"booking_code": code}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        fired = json.load(response)
    assert any("温馨提醒" in (m.get("text") or "") and code in m["text"] for m in fired["messages"])


def test_an_faq_question_mid_form_is_answered_and_the_form_resumes(bot, sender):
    send(bot.rasa_url, sender, "我要预约开户")
    asked = text_of(send(bot.rasa_url, sender, "预约办理需要带什么材料"))
    assert "请选择办理的网点" in asked.splitlines()[-1] or asked.rstrip().endswith("请选择办理的网点，或选择视频客服：")


def test_giving_up_leaves_no_booking(bot, sender):
    day = working_days(2, 1)[0]
    send(bot.rasa_url, sender, "我想预约开户")
    send(bot.rasa_url, sender, "滨江支行")
    send(bot.rasa_url, sender, f"{said(day)}下午4点")
    assert "已为您退出" in text_of(send(bot.rasa_url, sender, "算了，不约了"))
    with unit_of_work(bot.database_url) as session:
        mine = session.execute(select(Appointment).where(Appointment.conversation_id == sender)).scalars().all()
    assert mine == []
