"""Conversation scripts for the load benchmark (python -m bot.bench).

A script is what one simulated customer types, in order: a greeting, 2-3 FAQ
questions, an application-status query with its phone check, a booking
dialogue and chit-chat, the middle parts in a random order. FAQ questions
are standard and similar questions of the Q&A library (``faq/``), which the
library validator keeps free of held-out lines: the held-out test set is
never read here.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterable, List, Optional, Sequence

from bot.faq.library import Library

GREETINGS = ["你好", "您好", "你好，在吗"]
BOT_CHALLENGE = "你是机器人吗"
THANKS = "谢谢"
# Services asked for in "我想预约…" (names of the seeded service types).
BOOKED_SERVICES = ["开户", "理财咨询", "信用卡业务", "个人贷款咨询"]
# Times of day as customers type them; all within 9:00-20:00.
BOOKING_TIMES = [
    "上午10点", "上午11点", "下午2点", "下午3点", "下午4点",
    "09:30", "10:30", "13:30", "14:30", "15:30", "16:30", "17:00", "19:00",
]
STATUS_QUERIES = ["帮我查下 {number} 的进度", "我的申请{number}怎么样了", "查进度 {number}"]
# FAQ phrasings that ask for a person: they would hand the conversation to an
# agent and pause the bot, which is not what this benchmark measures.
HUMAN_WORDS = ("转人工", "人工客服", "找客服", "真人", "投诉")

# What shows a turn worked (checked by the driver, reported as "checks").
STATUS_SHOWN = "当前状态"
BOOKED = "预约码"


@dataclass(frozen=True)
class Turn:
    kind: str
    text: str
    expect: Optional[str] = None  # a reply containing this shows the turn worked


@dataclass(frozen=True)
class DemoApplication:
    number: str
    phone_last4: str


TURN_KINDS = (
    "greeting", "faq", "status_query", "status_phone", "booking_start",
    "booking_branch", "booking_time", "booking_phone", "booking_confirm", "chitchat",
)


def faq_questions(library: Library, exclude_ids: Iterable[str] = ()) -> List[str]:
    """Every standard and similar question of the library, except those of
    ``exclude_ids`` (entries that hand over to a person) and those asking
    for a person."""
    excluded = set(exclude_ids)
    return [
        text
        for entry in library.entries
        if entry.id not in excluded
        for text in entry.examples
        if not any(word in text for word in HUMAN_WORDS)
    ]


def working_days_ahead(
    today: date, is_working_day: Callable[[date], bool], first: int = 2, last: int = 25
) -> List[date]:
    """Working days from ``first`` to ``last`` days after ``today`` (inside the
    bot's 30-day booking window, never today, so no time is in the past)."""
    days = [today + timedelta(days=offset) for offset in range(first, last + 1)]
    return [day for day in days if is_working_day(day)]


def spaced(number: str) -> str:
    """SQ202611200003 -> "SQ2026 1120 0003", as customers type it."""
    return f"{number[:6]} {number[6:10]} {number[10:]}"


class ScriptMaker:
    """Makes one customer's script per call, from fixed material and a seeded RNG."""

    def __init__(
        self,
        questions: Sequence[str],
        applications: Sequence[DemoApplication],
        booking_days: Sequence[date],
        branches: Sequence[str],
        rng: Optional[random.Random] = None,
    ):
        if len(questions) < 3:
            raise ValueError("at least 3 FAQ questions are needed")
        if not applications or not booking_days or not branches:
            raise ValueError("applications, booking days and branches must not be empty")
        self.questions = list(questions)
        self.applications = list(applications)
        self.booking_days = list(booking_days)
        self.branches = list(branches)
        self.rng = rng or random.Random()

    def __call__(self) -> List[Turn]:
        rng = self.rng
        blocks: List[List[Turn]] = [
            [Turn("faq", question)] for question in rng.sample(self.questions, rng.choice((2, 3)))
        ]
        blocks += [self.status(), self.booking(), [Turn("chitchat", BOT_CHALLENGE)]]
        rng.shuffle(blocks)
        turns = [Turn("greeting", rng.choice(GREETINGS))]
        for block in blocks:
            turns += block
        return turns + [Turn("chitchat", THANKS)]

    def status(self) -> List[Turn]:
        application = self.rng.choice(self.applications)
        number = self.rng.choice((spaced(application.number), application.number))
        query = self.rng.choice(STATUS_QUERIES).format(number=number)
        return [
            Turn("status_query", query),
            Turn("status_phone", application.phone_last4, expect=STATUS_SHOWN),
        ]

    def booking(self) -> List[Turn]:
        rng = self.rng
        day = rng.choice(self.booking_days)
        phone = rng.choice(("135", "138", "139", "150", "186")) + f"{rng.randrange(10**8):08d}"
        return [
            Turn("booking_start", f"我想预约{rng.choice(BOOKED_SERVICES)}"),
            Turn("booking_branch", rng.choice(self.branches)),
            Turn("booking_time", f"{day.month}月{day.day}日{rng.choice(BOOKING_TIMES)}"),
            Turn("booking_phone", phone),
            Turn("booking_confirm", "确认预约", expect=BOOKED),
        ]
