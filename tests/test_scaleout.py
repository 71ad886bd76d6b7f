"""The scale-out deployment, really run: two Rasa replicas and two action
servers behind Debian's nginx, conversations in PostgreSQL, Rasa's lock store
and the socket.io rooms in Redis, application data in PostgreSQL
(bot/scaleout.py).

Conversations alternate replicas message by message, messages of one
conversation arrive at both replicas at once, a booking race runs over
both, and a replica is killed mid-run: every tracker must stay complete,
ordered and uninterleaved, with every answer the customer got recorded in
the turn it belongs to.

Needs PostgreSQL and Redis on 127.0.0.1 and /usr/sbin/nginx (`make test`
installs it): without them the module is skipped with the reason, unless
``CI`` is set, when it fails."""
from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import signal
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Dict, List, Tuple

import aiohttp
import pytest
import socketio
from sqlalchemy import select

from bot import clock
from bot.booking.calendar import get_calendar
from bot.db.engine import unit_of_work
from bot.db.models import Appointment, AppointmentSlot
from bot.db.seed import seed
from bot.scaleout import running_scaled_bot
from conftest import free_port
from db_fixtures import fresh_postgres_database, unavailable
from redis_fixtures import delete_keys, redis_server_url  # noqa: F401 (a fixture)

pytestmark = pytest.mark.server

CODE = re.compile(r"预约码：?(YY[A-Z0-9]{6})")
PHONE = "13812345678"
# A realistic mix, one list per kind of customer. No complaint or data-leak
# question: their answers hand over to a person (actions/action_faq_followup.py)
# and a paused conversation takes messages without a bot turn.
SCRIPTS = [
    ["你好", "人工服务几点上班", "转账多久到账", "谢谢"],
    ["请问开户要带什么材料", "手续费怎么收", "你是机器人吗", "再见"],
    ["今天天气怎么样", "你们会怎么保护我的个人信息", "好的谢谢"],
    ["帮我查下 SQ2026 1120 0003 的进度", "0000", "算了", "理财产品有风险吗"],
]


@pytest.fixture(scope="module")
def scaled(tmp_path_factory, settings, redis_server_url):
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run the tests with `make test`")
    if not Path(settings.nginx_path).exists():
        unavailable("nginx", f"{settings.nginx_path} is missing (.ci/ensure-nginx installs it)")
    prefix = f"scaleout{secrets.token_hex(4)}:"
    try:
        with fresh_postgres_database("bot_scaleout") as database_url:
            with unit_of_work(database_url) as session:
                seed(session)
            with pytest.MonkeyPatch.context() as environment:
                environment.setenv("DATABASE_URL", database_url)
                environment.setenv("BOT_TRACKER_STORE_URL", database_url)
                environment.setenv("BOT_REDIS_URL", redis_server_url)
                environment.setenv("BOT_REDIS_KEY_PREFIX", prefix)
                workdir = tmp_path_factory.mktemp("scaleout")
                with running_scaled_bot(
                    free_port(), free_port(),
                    rasa_ports=[free_port(), free_port()],
                    action_ports=[free_port(), free_port()],
                    workdir=workdir,
                ) as bot:
                    bot.database_url = database_url
                    bot.workdir = workdir
                    yield bot
    finally:
        # Rasa's lock store keeps the prefix's letters and digits only
        delete_keys(redis_server_url, f"{prefix.rstrip(':')}*")


async def say(http: aiohttp.ClientSession, url: str, sender: str, message: str) -> List[dict]:
    async with http.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}
    ) as response:
        assert response.status == 200, f"{url}: {response.status} {await response.text()}"
        return await response.json()


async def events_of(http: aiohttp.ClientSession, url: str, sender: str) -> List[dict]:
    async with http.get(f"{url}/conversations/{sender}/tracker") as response:
        assert response.status == 200
        return (await response.json())["events"]


def turns_of(events: List[dict]) -> List[Tuple[str, List[str]]]:
    """(customer text, the bot's texts) per customer message, in order.
    Fails when a message was taken before the previous turn ended (a turn
    ends when Rasa listens again, action_listen, or when the turn is undone,
    a rewind, as the core fallback does): that is what two replicas
    processing one conversation at once would leave."""
    turns: List[Tuple[str, List[str]]] = []
    previous = None
    for event in events:
        if event["event"] == "user":
            ended = previous is not None and (
                previous["event"] == "rewind" or previous.get("name") == "action_listen"
            )
            assert ended, f"message {event['text']!r} taken in the middle of a turn: " + ", ".join(
                f"{e['event']}:{e.get('name') or e.get('text') or ''}" for e in events
            )
            turns.append((event["text"], []))
        elif event["event"] == "bot" and turns:
            turns[-1][1].append(event.get("text"))
        if event["event"] in ("user", "action", "rewind"):
            previous = event
    return turns


def texts(messages: List[dict]) -> List[str]:
    return [message.get("text") for message in messages]


async def test_conversations_alternating_replicas_stay_whole_and_ordered(scaled):
    replicas = [replica.url for replica in scaled.rasa_replicas]
    conversations = {f"scale-{uuid.uuid4().hex[:10]}": script
                     for script in SCRIPTS for _ in range(3)}
    answers: Dict[str, List[List[str]]] = {sender: [] for sender in conversations}

    async def converse(http, number: int, sender: str, script: List[str]) -> None:
        for turn, message in enumerate(script):
            # each message lands on the other replica than the one before
            url = replicas[(number + turn) % len(replicas)]
            answers[sender].append(texts(await say(http, url, sender, message)))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        await asyncio.gather(*(
            converse(http, number, sender, script)
            for number, (sender, script) in enumerate(conversations.items())
        ))
        for number, (sender, script) in enumerate(conversations.items()):
            # read back from the replica that did not take the last message
            events = await events_of(http, replicas[(number + len(script)) % 2], sender)
            turns = turns_of(events)
            assert [message for message, _ in turns] == script, "every message once, in order"
            assert [said for _, said in turns] == answers[sender], "what the customer got is recorded"
            assert all(said for said in answers[sender]), "every message was answered"


async def test_concurrent_messages_of_one_conversation_are_taken_one_at_a_time(scaled):
    replicas = [replica.url for replica in scaled.rasa_replicas]
    sender = f"burst-{uuid.uuid4().hex[:10]}"
    messages = ["人工服务几点上班", "转账多久到账", "手续费怎么收", "你是机器人吗",
                "开户要带什么材料", "理财产品有风险吗", "你们会怎么保护我的个人信息",
                "怎么注册账户", "满意度调查是什么", "谢谢"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        replies = await asyncio.gather(*(
            say(http, replicas[i % 2], sender, message) for i, message in enumerate(messages)
        ))
        turns = turns_of(await events_of(http, scaled.rasa_url, sender))
    assert sorted(message for message, _ in turns) == sorted(messages), "none lost, none doubled"
    recorded = dict(turns)
    for message, reply in zip(messages, replies):
        assert texts(reply) and recorded[message] == texts(reply)


def _free_working_day_at_binjiang():
    """A working day about a week ahead whose 15:00 slot at 滨江支行 (2 places)
    the seed did not touch."""
    calendar, day = get_calendar(), clock.now().date() + timedelta(days=7)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


async def test_a_booking_race_over_both_replicas_never_overbooks(scaled):
    replicas = [replica.url for replica in scaled.rasa_replicas]
    day = _free_working_day_at_binjiang()
    when = f"{day.month}月{day.day}日下午3点"
    senders = [f"book-{uuid.uuid4().hex[:10]}" for _ in range(5)]
    steps = ["我想预约开户", "滨江支行", when, PHONE]

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        async def prepare(number: int, sender: str) -> str:
            said = []
            for turn, message in enumerate(steps):
                said = texts(await say(http, replicas[(number + turn) % 2], sender, message))
            return "\n".join(filter(None, said))

        summaries = await asyncio.gather(*(prepare(n, s) for n, s in enumerate(senders)))
        assert all("请确认预约信息" in summary for summary in summaries), summaries
        # all five confirm the same slot at once, over both replicas
        confirmed = await asyncio.gather(*(
            say(http, replicas[n % 2], sender, "确认预约") for n, sender in enumerate(senders)
        ))
    codes = {sender: CODE.search("\n".join(filter(None, texts(reply))))
             for sender, reply in zip(senders, confirmed)}
    booked = {sender: match.group(1) for sender, match in codes.items() if match}

    with unit_of_work(scaled.database_url) as session:
        rows = session.execute(
            select(Appointment.conversation_id, Appointment.code, AppointmentSlot)
            .join(AppointmentSlot, Appointment.slot_id == AppointmentSlot.id)
            .where(Appointment.conversation_id.in_(senders))
        ).all()
        assert len(booked) == len(rows) >= 1, "every code told was stored, and nothing else"
        assert {row.conversation_id: row.code for row in rows} == booked
        slot = rows[0].AppointmentSlot
        assert all(row.AppointmentSlot.id == slot.id for row in rows)
        assert slot.booked <= slot.capacity == 2
        assert len(booked) == slot.booked, "this slot was free before the race"
    for sender in set(senders) - set(booked):
        reply = "\n".join(filter(None, texts(confirmed[senders.index(sender)])))
        assert "约满" in reply, f"{sender} was told why: {reply}"


async def test_an_agent_line_reaches_a_socket_held_by_the_other_replica(scaled):
    first, second = (replica.url for replica in scaled.rasa_replicas)
    session_id = f"sio-{uuid.uuid4().hex[:10]}"
    inbox: "asyncio.Queue[dict]" = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)
    client.on("bot_uttered", inbox.put)
    confirmed = asyncio.get_running_loop().create_future()
    client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
    await client.connect(first, transports=["websocket"], socketio_path="/socket.io")
    try:
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed, 10)
        await client.emit("user_uttered", {"message": "你好", "session_id": session_id})
        await asyncio.wait_for(inbox.get(), 30)
        line = "【客服李娜】您好，我来继续为您处理。"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{second}/conversations/{session_id}/tracker/events"
                "?output_channel=latest&execute_side_effects=true",
                json={"event": "bot", "text": line},
            ) as response:
                assert response.status == 200
        heard = []
        while line not in heard:
            heard.append((await asyncio.wait_for(inbox.get(), 15)).get("text"))
    finally:
        await client.disconnect()


def _answering_ports(path: Path, since: int) -> List[str]:
    """The port of the replica that answered each message, from nginx's
    access log (bot.scaleout's format ends with the replicas tried, quoted)."""
    lines = path.read_text(encoding="utf-8").splitlines()[since:]
    return [
        line.rsplit('"', 2)[1].split(", ")[-1].rsplit(":", 1)[-1]
        for line in lines if " /webhooks/rest/webhook " in line
    ]


async def test_conversations_go_on_when_a_replica_dies(scaled):
    """Last in this module: it kills a replica."""
    senders = [f"failover-{uuid.uuid4().hex[:10]}" for _ in range(8)]
    rounds = [["你好"], ["人工服务几点上班"], ["转账多久到账"], ["谢谢"]]
    sent: Dict[str, List[str]] = {sender: [] for sender in senders}
    answers: Dict[str, List[List[str]]] = {sender: [] for sender in senders}
    log = scaled.nginx_access_log
    dead, alive = scaled.rasa_replicas

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        async def one_round(messages: List[str]) -> None:
            async def turn(sender: str, message: str) -> None:
                answers[sender].append(texts(await say(http, scaled.rasa_url, sender, message)))
                sent[sender].append(message)
            await asyncio.gather(*(
                turn(sender, message) for sender, message in itertools.product(senders, messages)
            ))

        before = len(log.read_text(encoding="utf-8").splitlines())
        await one_round(rounds[0])
        await one_round(rounds[1])
        assert set(_answering_ports(log, before)) == {str(dead.port), str(alive.port)}, (
            "nginx spread the messages over both replicas"
        )

        dead.process.send_signal(signal.SIGKILL)
        dead.process.wait(timeout=10)
        after_kill = len(log.read_text(encoding="utf-8").splitlines())
        for messages in rounds[2:]:
            await one_round(messages)
        assert set(_answering_ports(log, after_kill)) == {str(alive.port)}, (
            "after the kill the live replica answers"
        )

        for sender in senders:
            turns = turns_of(await events_of(http, alive.url, sender))
            assert [message for message, _ in turns] == sent[sender] == [r[0] for r in rounds]
            assert [said for _, said in turns] == answers[sender]
