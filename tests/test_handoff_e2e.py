"""The whole life of a handoff through real processes: the Rasa server, the
action server and the console (each its own process, as `make run` starts
them) on one SQLite database. Customers talk over Rasa's socket.io channel,
as the web widget does; agents over the console's HTTP API, as their
browsers do.

The processes' clock starts on Friday 27 November 2026 at 10:00 (a working
day, inside the service hours) and runs on in real time
(``BOT_DEMO_CLOCK_START``); the SLA watcher checks every second.
"""
from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from typing import Any, Callable, Dict, List, Optional

import aiohttp
import pytest
import socketio
from sqlalchemy import select, update

from bot.db.engine import unit_of_work
from bot.db.migrate import upgrade
from bot.db.models import utcnow
from bot.db.seed import seed
from bot.handoff.models import Case, CaseStatus
from bot.handoff.seed import seed_handoff
from bot.launch import running_bot, write_endpoints
from conftest import free_port, parse
from test_bot import VAGUE

pytestmark = pytest.mark.server

SILENCE_SECONDS = 3.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory, settings, demo_agent_password):
    """Rasa, actions and console on their own database and a fixed start time."""
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run the tests with `make test`")
    workdir = tmp_path_factory.mktemp("handoff-e2e")
    url = f"sqlite:///{workdir / 'app.db'}"
    upgrade(url)
    with unit_of_work(url) as session:
        seed(session)
        seed_handoff(session, now=utcnow())  # the demo agents, conftest's password
    action_port = free_port()
    endpoints = write_endpoints(workdir / "endpoints.yml", action_port)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("DATABASE_URL", url)
        environment.setenv("BOT_DEMO_CLOCK_START", "2026-11-27T10:00:00")
        environment.setenv("BOT_SLA_CHECK_SECONDS", "1")
        with running_bot(
            free_port(), action_port, endpoints=endpoints, log_dir=workdir,
            console_port=free_port(),
        ) as running:
            running.database_url = url
            running.agent_password = demo_agent_password
            yield running


# --- the customer's side: Rasa's socket.io channel ---------------------------------------


class Customer:
    """A web-widget customer: one socket.io session on the Rasa server."""

    def __init__(self, rasa_url: str) -> None:
        self.rasa_url = rasa_url
        self.session_id = f"e2e-{uuid.uuid4().hex[:12]}"
        self.inbox: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("bot_uttered", self.inbox.put)

    async def __aenter__(self) -> "Customer":
        confirmed = asyncio.get_running_loop().create_future()
        self.sio.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
        await self.sio.connect(self.rasa_url, transports=["websocket"], socketio_path="/socket.io")
        await self.sio.emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(confirmed, 10)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.sio.disconnect()

    async def say(self, text: str) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})

    async def hears(self, predicate: Callable[[str], bool], timeout: float = 30) -> Dict[str, Any]:
        """The first message whose text satisfies ``predicate`` (others are skipped)."""
        async def wait() -> Dict[str, Any]:
            while True:
                message = await self.inbox.get()
                if predicate(message.get("text") or ""):
                    return message

        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"nothing expected heard in {timeout:.0f}s; the conversation ends with "
                f"{recent_events(self.rasa_url, self.session_id)}"
            ) from None

    async def hears_nothing(self, seconds: float = SILENCE_SECONDS) -> None:
        await asyncio.sleep(seconds)
        assert self.inbox.empty(), f"the bot spoke: {self.inbox.get_nowait()}"

    def drain(self) -> None:
        while not self.inbox.empty():
            self.inbox.get_nowait()


def button_titles(message: Dict[str, Any]) -> List[str]:
    return [reply["title"] for reply in message.get("quick_replies") or message.get("buttons") or []]


# --- the agents' side: the console's HTTP API ----------------------------------------------


class Agent:
    def __init__(self, console_url: str, password: str) -> None:
        self.url = console_url
        self.password = password
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str) -> "Agent":
        async with self.http.get(f"{self.url}/login") as response:
            token = (await response.json())["csrf_token"]
        form = {"username": username, "password": self.password, "csrf_token": token}
        async with self.http.post(f"{self.url}/login", data=form) as response:
            assert response.status == 200, await response.text()
            self.csrf = (await response.json())["csrf_token"]
        return self

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.url}{path}") as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: Optional[dict] = None, expect: int = 200) -> Any:
        async with self.http.post(
            f"{self.url}{path}", json=body or {}, headers={"X-CSRF-Token": self.csrf}
        ) as response:
            assert response.status == expect, await response.text()
            return await response.json()

    async def case(self, number: str) -> Dict[str, Any]:
        return (await self.get(f"/api/cases/{number}"))["case"]

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def agents(stack):
    opened: List[Agent] = []

    async def login(username: str) -> Agent:
        agent = await Agent(stack.console_url, stack.agent_password).login(username)
        opened.append(agent)
        return agent

    yield login
    for agent in opened:
        await agent.close()


async def eventually(check: Callable[[], Any], timeout: float = 15) -> Any:
    """Poll an async ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.3)


def case_of(stack, conversation_id: str, *statuses: CaseStatus) -> Optional[Case]:
    with unit_of_work(stack.database_url) as session:
        cases = session.execute(
            select(Case).where(Case.conversation_id == conversation_id).order_by(Case.id)
        ).scalars()
        found = [c for c in cases if not statuses or c.status in statuses]
        for case in found:
            session.expunge(case)
        return found[-1] if found else None


def recent_events(rasa_url: str, conversation_id: str, count: int = 12) -> List[str]:
    """The conversation's last events, for a failure message."""
    url = f"{rasa_url}/conversations/{conversation_id}/tracker"
    with urllib.request.urlopen(url, timeout=30) as response:
        events = json.load(response)["events"]
    return [
        f"{e['event']}:{e.get('name') or e.get('text') or (e.get('parse_data') or {}).get('intent')}"
        for e in events[-count:]
    ]


# --- the life of a case -------------------------------------------------------------------


async def test_the_whole_life_of_a_case(stack, agents):
    lina, wang = await agents("agent1"), await agents("agent2")
    async with Customer(stack.rasa_url) as customer:
        # The customer asks for a person: told the queue position and how to go back.
        await customer.say("转人工")
        told = await customer.hears(lambda text: "服务单号" in text)
        assert "您前面还有0位客户" in told["text"] and "返回机器人" in told["text"]
        case = case_of(stack, customer.session_id, CaseStatus.WAITING)
        number = case.number
        queue = (await lina.get("/api/queue"))["cases"]
        assert number in [item["number"] for item in queue]

        # While the case waits the bot is silent, and every line reaches the case.
        # (a mobile number typed while waiting is kept for a call back, and
        # only acknowledged, masked: the bot itself says nothing)
        await customer.say("我的卡号6222021234567890123被盗刷了，手机13812345678")
        noted = await customer.hears(lambda text: "回电号码" in text)
        assert "138****5678" in noted["text"]
        await customer.hears_nothing()
        detail = await eventually(lambda: _with_customer_line(lina, number, "被盗刷"))
        shown = json.dumps(detail, ensure_ascii=False)
        assert "6222021234567890123" not in shown and "13812345678" not in shown

        # 李娜 claims it: she owns it, and the customer hears who has them.
        claimed = await lina.post(f"/api/cases/{number}/claim")
        assert claimed["case"]["owner"]["username"] == "agent1" and claimed["delivered"] is True
        joined = await customer.hears(lambda text: "客服李娜" in text)
        assert number in joined["text"] and "首问负责制" in joined["text"]
        refused = await wang.post(f"/api/cases/{number}/claim", expect=409)
        assert "李娜" in refused["error"]

        # Chat both ways.
        sent = await lina.post(f"/api/cases/{number}/messages", {"text": "您好，已为您冻结该卡，请稍候。"})
        assert sent["delivered"] is True
        await customer.hears(lambda text: text == "【客服李娜】您好，已为您冻结该卡，请稍候。")
        await lina.post(f"/api/cases/{number}/messages", {"text": "疑似盗刷，已电话核实", "private": True})
        await customer.say("好的，谢谢")
        await eventually(lambda: _with_customer_line(lina, number, "好的，谢谢"))
        await customer.hears_nothing()  # the private note and the bot: silent

        # Transfer: 王强 handles, 李娜 stays the owner.
        transferred = await lina.post(
            f"/api/cases/{number}/transfer", {"to": "agent2", "note": "请协助核实交易流水"}
        )
        assert transferred["case"]["owner"]["username"] == "agent1"
        assert transferred["case"]["handler"]["username"] == "agent2"
        await wang.post(f"/api/cases/{number}/messages", {"text": "正在为您核实交易。"})
        await customer.hears(lambda text: text == "【客服王强】正在为您核实交易。")
        await wang.post(f"/api/cases/{number}/close", {"resolution_note": "x"}, expect=403)

        # The owner closes with a note; the customer is asked to rate, the bot is back.
        await lina.post(f"/api/cases/{number}/close", {}, expect=422)
        closed = await lina.post(
            f"/api/cases/{number}/close", {"resolution_note": "已冻结并补办新卡"}
        )
        assert closed["case"]["status"]["value"] == "closed"
        question = await customer.hears(lambda text: "打分" in text)
        assert button_titles(question)[0] == "5分 非常满意" and len(button_titles(question)) == 5

        await customer.say('/rate_service{"satisfaction_score":"4"}')
        ask = await customer.hears(lambda text: "感谢您的评价" in text)
        assert button_titles(ask) == ["不用了"]
        await customer.say("处理很及时，谢谢")
        await customer.hears(lambda text: "已收到您的意见" in text)
        rated = case_of(stack, customer.session_id, CaseStatus.CLOSED)
        assert (rated.satisfaction_score, rated.satisfaction_comment) == (4, "处理很及时，谢谢")

        # Back with the bot: an FAQ question is answered again.
        await customer.say("人工服务几点上班")
        answer = await customer.hears(lambda text: "9:00" in text)
        assert "22:00" in answer["text"]

    steps = ["created", "claimed", "transferred", "closed", "satisfaction"]
    history = [event["kind"]["value"] for event in (await lina.case(number))["events"]]
    assert [kind for kind in history if kind in steps] == steps


async def _with_customer_line(agent: Agent, number: str, fragment: str):
    detail = await agent.case(number)
    lines = [m for m in detail["messages"] if m["author"]["value"] == "customer"]
    return detail if any(fragment in m["text"] for m in lines) else None


async def test_a_waiting_customer_can_go_back_to_the_bot(stack):
    async with Customer(stack.rasa_url) as customer:
        await customer.say("我要人工服务")
        await customer.hears(lambda text: "服务单号" in text)
        await customer.say("返回機器人")  # Traditional script works too
        back = await customer.hears(lambda text: "已为您取消人工服务" in text)
        assert back
        case = case_of(stack, customer.session_id)
        assert case.status is CaseStatus.RETURNED_TO_BOT
        await customer.say("人工服务几点上班")
        await customer.hears(lambda text: "9:00" in text)


async def test_a_complaint_is_handed_over_and_an_unanswered_wait_is_escalated(stack, agents):
    supervisor = await agents("supervisor")
    async with Customer(stack.rasa_url) as customer:
        await customer.say("我要投诉")
        await customer.hears(lambda text: "服务单号" in text)
        case = case_of(stack, customer.session_id, CaseStatus.WAITING)
        assert case.reason.value == "complaint"

        # Nobody claims it in time: the watcher escalates and tells the customer once.
        with unit_of_work(stack.database_url) as session:
            session.execute(
                update(Case).where(Case.id == case.id)
                .values(first_response_due=case.created_at.replace(year=2026, month=11, day=20))
            )
        sorry = await customer.hears(lambda text: "久等" in text)
        assert "手机号码" in sorry["text"]
        await customer.hears_nothing(2.5)  # once, not every second
        escalated = case_of(stack, customer.session_id, CaseStatus.WAITING)
        assert escalated.escalated_at is not None
        breaches = (await supervisor.get("/api/cases/breaches"))["cases"]
        assert case.number in [item["number"] for item in breaches]

        # A mobile number typed now is kept for the call back, masked in the reply.
        await customer.say("请打我电话 13912345678")
        noted = await customer.hears(lambda text: "回电号码" in text)
        assert "139****5678" in noted["text"]
        assert case_of(stack, customer.session_id).callback_phone == "13912345678"


async def test_a_high_risk_case_goes_to_the_front_of_the_queue(stack, agents):
    lina = await agents("agent1")
    async with Customer(stack.rasa_url) as first, Customer(stack.rasa_url) as urgent:
        await first.say("帮我转人工")
        await first.hears(lambda text: "服务单号" in text)
        await urgent.say("我的账号好像被盗了")
        told = await urgent.hears(lambda text: "服务单号" in text)
        assert "优先" in told["text"] and "您前面还有0位客户" in told["text"]
        queue = (await lina.get("/api/queue"))["cases"]
        urgent_case = case_of(stack, urgent.session_id, CaseStatus.WAITING)
        assert queue[0]["number"] == urgent_case.number
        assert queue[0]["priority"]["value"] == "high"
        for customer in (first, urgent):
            await customer.say("取消")
            await customer.hears(lambda text: "已为您取消人工服务" in text)


async def test_two_misses_then_yes_hand_over_as_a_fallback(stack):
    unsure = [line for line in VAGUE if parse(stack, line)["intent"]["name"] == "nlu_fallback"]
    assert len(unsure) >= 2
    async with Customer(stack.rasa_url) as customer:
        await customer.say(unsure[0])
        await customer.hears(lambda text: "您是不是想问" in text)
        await customer.say(unsure[1])
        offer = await customer.hears(lambda text: "需要为您转接人工服务吗" in text)
        assert button_titles(offer) == ["转人工", "不用了"]
        await customer.say("好的")
        await customer.hears(lambda text: "服务单号" in text)
        assert case_of(stack, customer.session_id).reason.value == "fallback"
        await customer.say("取消")
        await customer.hears(lambda text: "已为您取消人工服务" in text)
