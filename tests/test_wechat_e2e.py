"""The WeChat channel end to end: a real Rasa server (the trained model) and
a real action server, with the channel loaded from a credentials file by its
dotted path, and the WeChat simulator playing WeChat: callbacks in, passive
replies and customer-service messages out.

Rasa reaches the action server through the simulator's pass-through proxy,
which a test can slow down to make a bot turn slower than the channel's
4.5 s reply deadline. One test uses WeChat's real 5 s retry timing.
"""
from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import List
from urllib.parse import quote

import pytest

from bot.console.delivery import CustomerLine
from bot.faq.library import load_library
from bot.launch import running_bot, write_endpoints
from bot.privacy import mask_identifier
from conftest import free_port
from wechat_simulator import BILLION_LAUGHS, EXTERNAL_ENTITY, WeChatSimulator

pytestmark = pytest.mark.server

TOKEN, APP_ID, APP_SECRET = "e2e-wechat-token", "wx1234567890abcdef", "e2e-wechat-app-secret"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CREDENTIALS = """\
rest:
bot.channels.wechat.WeChatInput:
  compatible_mode: true
"""
OPENIDS: List[str] = []  # every customer of this module, for the log check


@dataclass
class WeChatBot:
    simulator: WeChatSimulator
    rasa_url: str
    token: str
    log: Path

    def api(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.rasa_url}{path}" + (f"{separator}token={self.token}" if self.token else "")

    def user_texts(self, sender: str) -> List[str]:
        with urllib.request.urlopen(self.api(f"/conversations/{quote(sender)}/tracker"), timeout=30) as response:
            events = json.load(response)["events"]
        return [e["text"] for e in events if e["event"] == "user"]

    def user_channels(self, sender: str) -> List[str]:
        with urllib.request.urlopen(self.api(f"/conversations/{quote(sender)}/tracker"), timeout=30) as response:
            events = json.load(response)["events"]
        return [e["input_channel"] for e in events if e["event"] == "user"]

    def rest_reply(self, text: str) -> str:
        """What the bot says to ``text`` over REST (a fresh conversation), as
        WeChat text: buttons numbered under their message."""
        request = urllib.request.Request(
            self.api("/webhooks/rest/webhook"),
            data=json.dumps({"sender": f"rest-{uuid.uuid4().hex[:12]}", "message": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            messages = json.load(response)
        parts, number = [], 0
        for message in messages:
            lines = [message["text"]] if message.get("text") else []
            if message.get("buttons"):
                lines.append("回复数字即可：")
                for button in message["buttons"]:
                    number += 1
                    lines.append(f"{number}. {button['title']}")
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def agent_says(self, sender: str, text: str) -> bool:
        """What the agents' console does (bot.console.delivery)."""

        async def say() -> bool:
            line = CustomerLine(self.rasa_url, self.token or None)
            try:
                return await line.say(sender, text)
            finally:
                await line.close()

        return asyncio.run(say())


@pytest.fixture(scope="module")
def wechat(tmp_path_factory, settings, app_database_url):
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run the tests with `make test`")
    workdir = tmp_path_factory.mktemp("wechat")
    simulator = WeChatSimulator(TOKEN, APP_ID, APP_SECRET, encoding_aes_key=AES_KEY).start()
    action_port, rasa_port = free_port(), free_port()
    simulator.action_target = f"http://127.0.0.1:{action_port}/webhook"
    # Rasa calls its actions through the simulator's proxy (slowed on demand).
    endpoints = write_endpoints(workdir / "endpoints.yml", simulator.port)
    credentials = workdir / "credentials.yml"
    credentials.write_text(CREDENTIALS, encoding="utf-8")
    wechat_environment = {
        "DATABASE_URL": app_database_url,
        "BOT_REDIS_URL": "",
        "BOT_WECHAT_TOKEN": TOKEN,
        "BOT_WECHAT_APP_ID": APP_ID,
        "BOT_WECHAT_APP_SECRET": APP_SECRET,
        "BOT_WECHAT_ENCODING_AES_KEY": AES_KEY,
        "BOT_WECHAT_API_BASE": simulator.base_url,
    }
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in wechat_environment.items():
                patch.setenv(name, value)
            with running_bot(
                rasa_port, action_port, endpoints=endpoints, log_dir=workdir,
                credentials=credentials,
            ) as bot:
                simulator.channel_url = f"{bot.rasa_url}/webhooks/wechat/webhook"
                running = WeChatBot(simulator, bot.rasa_url, settings.rasa_token or "", workdir / "rasa.log")
                _warm_up(running)
                yield running
    finally:
        simulator.stop()


def _warm_up(running: WeChatBot) -> None:
    """The first turns of a fresh server are slow; not the customers' problem."""
    for text in ("你好", "人工客服几点上班"):
        request = urllib.request.Request(
            running.api("/webhooks/rest/webhook"),
            data=json.dumps({"sender": "warm-up", "message": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=120).read()


@pytest.fixture
def customer():
    openid = "o" + uuid.uuid4().hex[:27]
    OPENIDS.append(openid)
    return openid


@pytest.fixture
def simulator(wechat):
    simulator = wechat.simulator
    simulator.action_delay = 0.0
    yield simulator
    simulator.action_delay = 0.0


@pytest.fixture(scope="module")
def library(settings):
    return load_library(settings.faq_dir)


def test_wechat_verifies_the_callback_url(wechat, simulator):
    assert simulator.verify_url("5837205981723491") == (200, "5837205981723491")
    assert simulator.verify_url("5837205981723491", params={"signature": "0" * 40})[0] == 403


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe-mode"])
def test_a_question_is_answered_in_the_passive_reply(wechat, simulator, customer, library, safe):
    question = library.by_id()["transfer_fee"].question
    delivery = simulator.deliver(simulator.text(customer, question), safe=safe)
    assert len(delivery.attempts) == 1
    if safe:
        assert delivery.answer.reply_signature_ok is True
        assert question not in delivery.answer.body
    assert delivery.content == wechat.rest_reply(question)
    assert "\n回复数字即可：\n1. " in delivery.content
    assert wechat.user_texts(customer) == [question]
    assert wechat.user_channels(customer) == ["wechat"]
    assert simulator.sent_to(customer) == []


def test_a_new_follower_gets_the_welcome_and_picks_a_featured_question_by_number(wechat, simulator, customer, library):
    entries = library.by_id()
    greeting = simulator.deliver(simulator.event(customer, "subscribe")).content
    welcome, featured = greeting.split("\n\n", 1)
    assert welcome.startswith("您好，我是金融客服助手")
    questions = [entries[i].question for i in library.featured]
    assert featured.splitlines() == ["猜你想问：", "回复数字即可："] + [
        f"{n}. {q}" for n, q in enumerate(questions, 1)
    ]
    reply = simulator.deliver(simulator.text(customer, "２")).content
    assert wechat.user_texts(customer) == ["/greet", questions[1]]
    assert reply == wechat.rest_reply(questions[1])


def test_menu_clicks_and_unsubscribing(wechat, simulator, customer):
    simulator.deliver(simulator.event(customer, "CLICK", key="FAQ"))
    assert simulator.deliver(simulator.event(customer, "unsubscribe")).answer.body == "success"
    assert simulator.deliver(simulator.media(customer, "image")).content == "抱歉，暂时无法识别图片和语音消息，请用文字描述您的问题。"
    assert wechat.user_texts(customer) == ["/greet"]


def test_a_slow_turn_is_acknowledged_and_answered_through_the_message_api(wechat, simulator, customer, library):
    simulator.action_delay = 6.0  # 猜你想问 is a custom action: the turn takes > 6 s
    delivery = simulator.deliver(simulator.text(customer, "你好"))
    assert [a.status for a in delivery.attempts] == [200]
    assert delivery.answer.body == "success"
    assert 4.0 < delivery.answer.elapsed < 5.0
    welcome, featured = simulator.wait_for_sent(customer, 2, timeout=30)
    assert welcome.startswith("您好，我是金融客服助手")
    assert featured.startswith("猜你想问：\n回复数字即可：\n1. ")
    assert wechat.user_texts(customer) == ["你好"]
    # The numbers work for an answer that came through the API too.
    simulator.action_delay = 0.0
    simulator.deliver(simulator.text(customer, "1"))
    assert wechat.user_texts(customer) == ["你好", library.by_id()[library.featured[0]].question]


def test_wechats_three_retries_of_a_lost_reply_make_one_bot_turn(wechat, simulator, customer):
    """WeChat's real timing: it hears no answer (lost on the way), waits 5 s
    and delivers again, three times."""
    delivery = simulator.deliver(simulator.text(customer, "转账收不收手续费"), safe=True, lose_answers=True)
    assert len(delivery.attempts) == 4
    assert all(a.status == 200 for a in delivery.attempts)
    contents = {a.content for a in delivery.attempts}
    assert len(contents) == 1 and None not in contents
    assert wechat.user_texts(customer) == ["转账收不收手续费"]
    assert simulator.sent_to(customer) == []


def test_a_retry_while_the_turn_runs_starts_no_second_turn(wechat, simulator, customer):
    simulator.action_delay = 3.0
    delivery = simulator.deliver(simulator.text(customer, "你好"), patience=1.0)
    assert [a.status for a in delivery.attempts] == [None, 200]
    assert delivery.answer.body == "success"
    welcome, featured = simulator.wait_for_sent(customer, 2, timeout=30)
    assert welcome.startswith("您好") and featured.startswith("猜你想问：")
    time.sleep(1.0)
    assert wechat.user_texts(customer) == ["你好"]
    assert len(simulator.sent_to(customer)) == 2


def test_an_agents_message_reaches_the_customer(wechat, simulator, customer):
    simulator.deliver(simulator.text(customer, "你好"))
    assert wechat.agent_says(customer, "您好，我是客服小王，请问有什么可以帮您？")
    assert simulator.wait_for_sent(customer, 1) == ["您好，我是客服小王，请问有什么可以帮您？"]


def test_a_long_agent_message_is_split_under_2048_bytes(wechat, simulator, customer):
    simulator.deliver(simulator.text(customer, "你好"))
    text = "\n".join(f"{i}. 请您携带本人有效身份证件及银行卡，到任意网点柜台办理挂失补卡业务。" for i in range(1, 81))
    assert len(text.encode("utf-8")) > 3 * 2048
    assert wechat.agent_says(customer, text)
    delivered = simulator.sent_to(customer)
    assert "".join(m.content for m in delivered) == text
    assert len(delivered) >= 4
    assert all(len(m.content.encode("utf-8")) < 2048 for m in delivered)


def test_an_expired_token_is_refreshed_once(wechat, simulator, customer):
    simulator.deliver(simulator.text(customer, "你好"))
    assert wechat.agent_says(customer, "第一条")  # a valid token is cached
    before = len(simulator.token_calls)
    simulator.expire_tokens()
    assert wechat.agent_says(customer, "第二条")
    assert len(simulator.token_calls) - before == 1
    attempts = simulator.sent_to(customer, delivered_only=False)
    assert [(m.content, m.errcode) for m in attempts] == [("第一条", 0), ("第二条", 42001), ("第二条", 0)]


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_a_closed_window_or_quota_is_reported_not_retried(wechat, simulator, customer, errcode):
    simulator.deliver(simulator.text(customer, "你好"))
    before = len(simulator.token_calls)
    simulator.fail_sends(errcode)
    assert not wechat.agent_says(customer, "您好，您的问题已处理。")  # the console learns it failed
    assert len(simulator.sent_to(customer, delivered_only=False)) == 1
    assert len(simulator.token_calls) == before
    deadline = time.monotonic() + 5
    while str(errcode) not in wechat.log.read_text(encoding="utf-8", errors="replace") and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [line for line in wechat.log.read_text(encoding="utf-8").splitlines() if str(errcode) in line]
    assert any(mask_identifier(customer) in line for line in lines)


def test_bad_signatures_and_xml_bombs_are_refused(wechat, simulator, customer):
    
    body = f"<xml><ToUserName>gh</ToUserName><FromUserName>{customer}</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1</MsgId></xml>"
    assert simulator.post_raw(body.encode(), params={"signature": "0" * 40})[0] == 403
    assert simulator.post_raw(BILLION_LAUGHS)[0] == 400
    assert simulator.post_raw(EXTERNAL_ENTITY)[0] == 400
    assert simulator.post_raw(b"<xml>" + b"A" * 100_000 + b"</xml>")[0] == 400
    assert wechat.user_texts(customer) == []
    # The server is fine.
    assert simulator.deliver(simulator.text(customer, "你好")).content.startswith("您好")


def test_no_log_line_shows_an_openid(wechat):
    """Runs last: whatever the tests above logged, OpenIDs appear masked only."""
    log = wechat.log.read_text(encoding="utf-8", errors="replace")
    assert "bot.channels" in log
    assert OPENIDS
    leaked = [openid for openid in OPENIDS if openid in log]
    assert leaked == []
