"""The WeChat channel's HTTP behaviour: its real blueprint served by real
Sanic servers (each one a "worker" with its own event loop in a thread),
called over HTTP by the WeChat simulator. In place of Rasa's agent, a
scripted bot answers, so timing and failures can be set exactly; the real
Rasa is in test_wechat_e2e.py."""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import List

import pytest
from sanic import Sanic

from bot.channels import wechat_texts
from bot.channels.wechat import WeChatInput
from conftest import free_port
from wechat_simulator import BILLION_LAUGHS, EXTERNAL_ENTITY, WeChatSimulator, message_xml

TOKEN, APP_ID, APP_SECRET = "channel-test-token", "wx0a1b2c3d4e5f6a7b", "channel-test-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
REDIS_URL = "redis://127.0.0.1:6379/0"
LONG_ANSWER = "\n".join(f"第{i}条：" + "请携带本人有效身份证件到网点办理。" * 6 for i in range(40))


class ScriptedBot:
    """Stands in for Rasa's agent: answers by the customer's text."""

    def __init__(self) -> None:
        self.received: List[tuple] = []
        self._lock = threading.Lock()

    def texts(self, sender: str) -> List[str]:
        with self._lock:
            return [text for who, text in self.received if who == sender]

    async def __call__(self, message) -> None:
        with self._lock:
            self.received.append((message.sender_id, message.text))
        out, who, text = message.output_channel, message.sender_id, message.text
        if text == "/greet":
            await out.send_response(who, {"text": "您好，我是金融客服助手。"})
            await out.send_response(who, {"text": "猜你想问：", "buttons": [
                {"title": "人工客服几点上班", "payload": "人工客服几点上班"},
                {"title": "转账手续费", "payload": "转账收不收手续费"},
            ]})
        elif text.startswith("slow"):
            await out.send_response(who, {"text": "正在为您查询"})
            await asyncio.sleep(float(text.split(":")[1]))
            await out.send_response(who, {"text": "查询完成"})
        elif text == "long":
            await out.send_response(who, {"text": LONG_ANSWER})
        elif text == "cdata":
            await out.send_response(who, {"text": "说明]]><xml>结束"})
        elif text == "boom":
            raise RuntimeError("model exploded")
        elif text == "silent":
            return
        elif text == "remind":  # as a reminder Rasa scheduled in this turn comes later
            await out.send_response(who, {"text": "已为您预约。"})

            async def later():
                await asyncio.sleep(0.3)
                await out.send_response(who, {"text": "温馨提醒：您的预约即将开始。", "buttons": [
                    {"title": "改约", "payload": "/change_appointment"}]})

            asyncio.ensure_future(later())
        else:
            await out.send_response(who, {"text": f"收到：{text}"})


class Worker:
    """One Sanic server with the channel's blueprint, on its own loop and thread."""

    def __init__(self, channel: WeChatInput, bot: ScriptedBot) -> None:
        self.channel, self.bot = channel, bot
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/wechat/webhook"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def start(self) -> "Worker":
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        app = Sanic(f"wechat_test_{uuid.uuid4().hex}")
        app.blueprint(self.channel.blueprint(self.bot), url_prefix="/webhooks/wechat")
        self.server = await app.create_server(
            host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
        )
        await self.server.startup()
        await self.server.before_start()
        await self.server.after_start()

    def stop(self) -> None:
        async def _stop():
            await self.server.before_stop()
            self.server.close()
            await self.server.wait_closed()
            await self.channel.api.close()
            await self.channel.store.close()

        self.run(_stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def simulator():
    with WeChatSimulator(TOKEN, APP_ID, APP_SECRET, encoding_aes_key=AES_KEY, retry_delay=5.0) as running:
        yield running


@pytest.fixture
def bot():
    return ScriptedBot()


@pytest.fixture
def start_worker(simulator, bot, monkeypatch):
    # Sanic rewrites its own methods when an app starts; in test mode it keeps
    # the originals, so that several apps can start in one process.
    monkeypatch.setattr(Sanic, "test_mode", True)
    workers: List[Worker] = []

    def start(**options) -> Worker:
        options.setdefault("token", TOKEN)
        options.setdefault("app_id", APP_ID)
        options.setdefault("app_secret", APP_SECRET)
        options.setdefault("api_base", simulator.base_url)
        worker = Worker(WeChatInput(**options), bot).start()
        workers.append(worker)
        simulator.channel_url = worker.url
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def customer():
    return "o" + uuid.uuid4().hex[:27]


# -- URL verification and signatures ---------------------------------------------------


def test_url_verification_echoes_echostr_only_when_signed(start_worker, simulator):
    start_worker()
    assert simulator.verify_url("7428301925630421") == (200, "7428301925630421")
    assert simulator.verify_url("7428301925630421", params={"signature": "0" * 40})[0] == 403
    assert simulator.verify_url("7428301925630421", params={"nonce": "changed"})[0] == 403
    assert simulator.verify_url("")[0] == 400


def test_without_a_token_every_callback_is_refused(start_worker, simulator, bot, customer):
    start_worker(token=None)
    assert simulator.verify_url("123")[0] == 403
    assert simulator.deliver(simulator.text(customer, "你好")).status == 403
    assert bot.texts(customer) == []


def test_a_bad_signature_is_refused_before_anything_is_read(start_worker, simulator, bot, customer):
    start_worker()
    body = message_xml(simulator.text(customer, "你好")).encode()
    assert simulator.post_raw(body, params={"signature": "f" * 40}) == (403, "forbidden")
    assert simulator.post_raw(body, signed=False)[0] == 403
    # Unsigned hostile bodies never reach a parser either.
    assert simulator.post_raw(BILLION_LAUGHS, signed=False)[0] == 403
    assert bot.texts(customer) == []


# -- answers ---------------------------------------------------------------------------------


def test_a_text_is_answered_in_the_http_reply(start_worker, simulator, bot, customer):
    start_worker()
    delivery = simulator.deliver(simulator.text(customer, "信用卡怎么还款"))
    assert delivery.status == 200 and len(delivery.attempts) == 1
    assert delivery.content == "收到：信用卡怎么还款"
    assert bot.texts(customer) == ["信用卡怎么还款"]
    assert simulator.sent_to(customer) == []


def test_safe_mode_decrypts_and_answers_encrypted(start_worker, simulator, bot, customer):
    start_worker(encoding_aes_key=AES_KEY)
    delivery = simulator.deliver(simulator.text(customer, "你好"), safe=True)
    assert delivery.answer.reply_signature_ok is True
    assert delivery.content == "收到：你好"
    assert "<Encrypt>" in delivery.answer.body and "收到" not in delivery.answer.body


def test_safe_mode_refuses_plaintext_unless_compatible(start_worker, simulator, bot, customer):
    start_worker(encoding_aes_key=AES_KEY)
    assert simulator.deliver(simulator.text(customer, "明文")).status == 403
    start_worker(encoding_aes_key=AES_KEY, compatible_mode=True)
    assert simulator.deliver(simulator.text(customer, "明文")).content == "收到：明文"
    assert simulator.deliver(simulator.text(customer, "密文"), safe=True).content == "收到：密文"


def test_an_encrypted_callback_without_a_key_or_with_a_bad_msg_signature_is_refused(start_worker, simulator, customer):
    start_worker()
    assert simulator.deliver(simulator.text(customer, "你好"), safe=True).status == 403
    start_worker(encoding_aes_key=AES_KEY)
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{simulator.crypto.encrypt('<xml/>')}]]></Encrypt></xml>"
    params = {"encrypt_type": "aes", "msg_signature": "0" * 40}
    assert simulator.post_raw(body.encode(), params=params)[0] == 403


def test_cdata_end_in_an_answer_does_not_break_the_reply(start_worker, simulator, customer):
    start_worker(encoding_aes_key=AES_KEY, compatible_mode=True)
    assert simulator.deliver(simulator.text(customer, "cdata")).content == "说明]]><xml>结束"
    assert simulator.deliver(simulator.text(customer, "cdata"), safe=True).content == "说明]]><xml>结束"


def test_a_long_answer_is_sent_in_pieces_under_2048_bytes(start_worker, simulator, customer):
    start_worker()
    delivery = simulator.deliver(simulator.text(customer, "long"))
    assert delivery.answer.body == "success"
    pieces = simulator.wait_for_sent(customer, 1)
    deadline = time.monotonic() + 10
    while "".join(pieces) != LONG_ANSWER and time.monotonic() < deadline:
        time.sleep(0.05)
        pieces = [m.content for m in simulator.sent_to(customer)]
    assert "".join(pieces) == LONG_ANSWER
    assert len(pieces) >= 3
    assert all(len(p.encode("utf-8")) < 2048 for p in pieces)


def test_a_slow_turn_is_acknowledged_and_answered_through_the_api_in_order(start_worker, simulator, bot, customer):
    start_worker(reply_deadline=0.5)
    delivery = simulator.deliver(simulator.text(customer, "slow:1.0"))
    assert delivery.answer.body == "success" and len(delivery.attempts) == 1
    assert delivery.answer.elapsed < 1.0
    assert simulator.wait_for_sent(customer, 2) == ["正在为您查询", "查询完成"]


def test_the_bot_failing_gets_an_apology_and_the_worker_lives_on(start_worker, simulator, customer):
    start_worker()
    assert simulator.deliver(simulator.text(customer, "boom")).content == wechat_texts.BUSY
    assert simulator.deliver(simulator.text(customer, "还在吗")).content == "收到：还在吗"


def test_a_turn_without_answer_is_acknowledged(start_worker, simulator, bot, customer):
    start_worker()
    assert simulator.deliver(simulator.text(customer, "silent")).answer.body == "success"
    assert bot.texts(customer) == ["silent"]


# -- message kinds -------------------------------------------------------------------------------


def test_a_new_follower_is_greeted_with_numbered_featured_questions(start_worker, simulator, bot, customer):
    start_worker()
    delivery = simulator.deliver(simulator.event(customer, "subscribe"))
    assert bot.texts(customer) == ["/greet"]
    assert delivery.content == (
        "您好，我是金融客服助手。\n\n猜你想问：\n回复数字即可：\n1. 人工客服几点上班\n2. 转账手续费"
    )
    # Answering with a number sends that button's payload.
    simulator.deliver(simulator.text(customer, "２"))
    assert bot.texts(customer)[-1] == "转账收不收手续费"
    # The list is used up: the next "1" is just text.
    simulator.deliver(simulator.text(customer, "1"))
    assert bot.texts(customer)[-1] == "1"


def test_numbers_out_of_range_or_without_a_list_stay_text(start_worker, simulator, bot, customer):
    start_worker()
    simulator.deliver(simulator.text(customer, "3"))
    simulator.deliver(simulator.event(customer, "subscribe"))
    simulator.deliver(simulator.text(customer, "3"))
    assert bot.texts(customer) == ["3", "/greet", "3"]


@pytest.mark.parametrize("key, payload", [
    ("FAQ", "/greet"), ("HUMAN", "/request_human"), ("BOOK", "/book_appointment"),
    ("STATUS", "/check_application_status"),
])
def test_menu_clicks_send_their_intents(start_worker, simulator, bot, customer, key, payload):
    start_worker()
    simulator.deliver(simulator.event(customer, "CLICK", key=key))
    assert bot.texts(customer) == [payload]


def test_the_menu_can_be_configured(start_worker, simulator, bot, customer):
    start_worker(menu={"RATES": "/faq"})
    simulator.deliver(simulator.event(customer, "CLICK", key="RATES"))
    assert bot.texts(customer) == ["/faq"]


@pytest.mark.parametrize("kind", ["image", "voice"])
def test_images_and_voice_are_asked_to_be_written(start_worker, simulator, bot, customer, kind):
    start_worker()
    assert simulator.deliver(simulator.media(customer, kind)).content == wechat_texts.TEXT_ONLY
    assert bot.texts(customer) == []


@pytest.mark.parametrize("fields", [
    lambda sim, who: sim.event(who, "unsubscribe"),
    lambda sim, who: sim.event(who, "CLICK", key="UNKNOWN"),
    lambda sim, who: sim.event(who, "VIEW", key="https://example.com"),
    lambda sim, who: {**sim.media(who, "image"), "MsgType": "video"},
    lambda sim, who: {**sim.text(who, "x"), "MsgType": "location"},
    lambda sim, who: sim.text(who, "   "),
])
def test_anything_else_is_acknowledged_without_a_turn(start_worker, simulator, bot, customer, fields):
    start_worker()
    delivery = simulator.deliver(fields(simulator, customer))
    assert (delivery.status, delivery.answer.body) == (200, "success")
    assert bot.texts(customer) == []


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    BILLION_LAUGHS, EXTERNAL_ENTITY, b"<xml><MsgType>text", b"", b"not xml at all",
    b"<xml><Content>no type</Content></xml>", b"<xml><MsgType>text</MsgType><MsgId>x</MsgId></xml>",
    b"<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType><Content>hi</Content></xml>",
])
def test_malformed_or_hostile_bodies_get_400(start_worker, simulator, body):
    start_worker()
    assert simulator.post_raw(body)[0] == 400
    assert simulator.deliver(simulator.text("oAlive1234567", "还在")).content == "收到：还在"


def test_odd_senders_are_acknowledged_and_ignored(start_worker, simulator, bot):
    start_worker()
    for sender in ("../../etc", "o" * 100, "张三", "o<b>123456"):
        fields = {**simulator.text("placeholder", "你好"), "FromUserName": sender}
        assert simulator.deliver(fields).answer.body == "success"
    assert bot.received == []


@pytest.mark.parametrize("missing", ["FromUserName", "ToUserName", "MsgType"])
def test_callbacks_without_their_addresses_get_400(start_worker, simulator, bot, missing):
    start_worker()
    fields = {k: v for k, v in simulator.text("oUser1234567", "你好").items() if k != missing}
    assert simulator.deliver(fields).status == 400
    assert bot.received == []


def test_huge_bodies_are_refused_without_reading_them(start_worker, simulator):
    start_worker(max_body_bytes=4096)
    huge = message_xml(simulator.text("oUser1234567", "长" * 20000)).encode()
    assert simulator.post_raw(huge)[0] == 400

    async def chunked():  # no Content-Length: counted while read
        async def parts():
            for _ in range(100):
                yield b"<xml>" + b"x" * 1000

        async with simulator._session.post(simulator.channel_url, params=simulator.signed_params(), data=parts()) as response:
            return response.status

    assert simulator.call(chunked()) == 400


# -- retries and workers --------------------------------------------------------------------------


def test_a_retry_while_the_turn_runs_starts_no_second_turn(start_worker, simulator, bot, customer):
    """WeChat gives up after 0.5 s here and delivers again; the first turn
    goes on and answers through the API."""
    start_worker(reply_deadline=3.0)
    delivery = simulator.deliver(simulator.text(customer, "slow:1.5"), patience=0.5)
    assert [a.status for a in delivery.attempts] == [None, 200]
    assert delivery.answer.body == "success"
    assert simulator.wait_for_sent(customer, 2) == ["正在为您查询", "查询完成"]
    time.sleep(0.5)
    assert bot.texts(customer) == ["slow:1.5"]


def test_lost_replies_are_given_again_to_retries(start_worker, simulator, bot, customer):
    start_worker(encoding_aes_key=AES_KEY)
    delivery = simulator.deliver(simulator.text(customer, "你好"), safe=True, patience=0.4, lose_answers=True)
    assert len(delivery.attempts) == 4
    assert [a.content for a in delivery.attempts] == ["收到：你好"] * 4
    assert bot.texts(customer) == ["你好"]
    assert simulator.sent_to(customer) == []


@pytest.fixture
def redis_prefix():
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_the_same_message_to_two_workers_is_one_turn(start_worker, simulator, bot, customer, redis_prefix):
    """Two workers sharing Redis get the original and its retries at once:
    one turn; the retries are acknowledged, so the answer is pushed, once."""
    shared = dict(redis_url=REDIS_URL, key_prefix=redis_prefix)
    first, second = start_worker(**shared), start_worker(**shared)
    fields = simulator.text(customer, "你好")
    attempts = simulator.deliver_concurrently(fields, [first.url, second.url] * 2)
    assert [a.status for a in attempts] == [200] * 4
    assert bot.texts(customer) == ["你好"]
    assert simulator.wait_for_sent(customer, 1) == ["收到：你好"]
    # Later retries, on either worker: no new turn, no second answer.
    for worker in (second, first):
        simulator.channel_url = worker.url
        assert simulator.deliver(fields).answer.body == "success"
    time.sleep(0.3)
    assert bot.texts(customer) == ["你好"]
    assert [m.content for m in simulator.sent_to(customer)] == ["收到：你好"]


def test_a_passive_reply_is_given_again_by_the_other_worker(start_worker, simulator, bot, customer, redis_prefix):
    shared = dict(redis_url=REDIS_URL, key_prefix=redis_prefix)
    first, second = start_worker(**shared), start_worker(**shared)
    fields = simulator.text(customer, "你好")
    simulator.channel_url = first.url
    assert simulator.deliver(fields).content == "收到：你好"
    simulator.channel_url = second.url  # WeChat never got it and retries elsewhere
    assert simulator.deliver(fields).content == "收到：你好"
    assert bot.texts(customer) == ["你好"]
    assert simulator.sent_to(customer) == []


def test_events_are_deduplicated_by_sender_and_time(start_worker, simulator, bot, customer, redis_prefix):
    shared = dict(redis_url=REDIS_URL, key_prefix=redis_prefix)
    first, second = start_worker(**shared), start_worker(**shared)
    event = simulator.event(customer, "CLICK", key="HUMAN")
    simulator.deliver_concurrently(event, [first.url, second.url, first.url])
    assert bot.texts(customer) == ["/request_human"]
    later = {**event, "CreateTime": event["CreateTime"] + 1}
    simulator.deliver(later)
    assert bot.texts(customer) == ["/request_human"] * 2


def test_numbered_choices_are_shared_by_workers(start_worker, simulator, bot, customer, redis_prefix):
    shared = dict(redis_url=REDIS_URL, key_prefix=redis_prefix)
    first, second = start_worker(**shared), start_worker(**shared)
    simulator.channel_url = first.url
    simulator.deliver(simulator.event(customer, "subscribe"))
    simulator.channel_url = second.url
    simulator.deliver(simulator.text(customer, "1"))
    assert bot.texts(customer) == ["/greet", "人工客服几点上班"]


# -- agents' messages (Rasa's get_output_channel) -------------------------------------------------


def test_an_agents_message_goes_through_the_message_api(start_worker, simulator, customer):
    worker = start_worker()

    async def agent_says():
        output = worker.channel.get_output_channel()
        await output.send_response(customer, {"text": "您好，我是客服小王。", "buttons": [
            {"title": "继续咨询机器人", "payload": "/stop"}]})

    worker.run(agent_says())
    assert simulator.wait_for_sent(customer, 1) == ["您好，我是客服小王。\n回复数字即可：\n1. 继续咨询机器人"]


def test_an_agents_message_that_wechat_refuses_raises(start_worker, simulator, customer):
    from bot.channels.wechat_output import WeChatDeliveryError

    worker = start_worker()
    simulator.fail_sends(45015)

    async def agent_says():
        await worker.channel.get_output_channel().send_text_message(customer, "您好")

    with pytest.raises(WeChatDeliveryError, match="45015"):
        worker.run(agent_says())
    assert len(simulator.sent_to(customer, delivered_only=False)) == 1


# -- logs ------------------------------------------------------------------------------------------


def test_logs_show_openids_masked_only(start_worker, simulator, customer, caplog):
    caplog.set_level("DEBUG", logger="bot.channels")
    start_worker(reply_deadline=0.3)
    simulator.deliver(simulator.text(customer, "slow:0.6"))
    simulator.deliver(simulator.text(customer, "boom"))
    simulator.fail_sends(45047)
    simulator.deliver(simulator.text(customer, "slow:0.6"))
    simulator.post_raw(b"<xml>broken")
    time.sleep(1.5)
    channel_logs = [r for r in caplog.records if r.name.startswith("bot.channels")]
    assert channel_logs
    text = "\n".join(r.getMessage() for r in channel_logs)
    assert "45047" in text
    assert customer[:3] + "***" + customer[-3:] in text
    assert customer not in text
    assert "正在为您查询" not in text and "slow:0.6" not in text


def test_messages_after_a_passively_answered_turn_are_pushed(start_worker, simulator, bot, customer):
    start_worker()
    assert simulator.deliver(simulator.text(customer, "remind")).content == "已为您预约。"
    assert simulator.wait_for_sent(customer, 1) == ["温馨提醒：您的预约即将开始。\n回复数字即可：\n1. 改约"]
    simulator.deliver(simulator.text(customer, "1"))
    assert bot.texts(customer) == ["remind", "/change_appointment"]


def test_the_channel_takes_its_secrets_from_settings_and_its_options_from_credentials(monkeypatch):
    from bot.settings import get_settings

    monkeypatch.setenv("BOT_WECHAT_TOKEN", "from-env")
    monkeypatch.setenv("BOT_WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("BOT_WECHAT_ENCODING_AES_KEY", AES_KEY)
    monkeypatch.setenv("BOT_WECHAT_API_BASE", "http://127.0.0.1:9/")
    get_settings.cache_clear()
    try:
        channel = WeChatInput.from_credentials({"reply_deadline": 2, "menu": {"RATES": "/faq"}})
        assert (channel.token, channel.reply_deadline, channel.compatible_mode) == ("from-env", 2.0, False)
        assert channel.menu["RATES"] == "/faq" and channel.menu["HUMAN"] == "/request_human"
        assert channel.api.api_base == "http://127.0.0.1:9"
        assert WeChatInput.from_credentials(None).reply_deadline == 4.5
        with pytest.raises(ValueError, match="reply_dedline"):
            WeChatInput.from_credentials({"reply_dedline": 1})
        monkeypatch.setenv("BOT_WECHAT_ENCODING_AES_KEY", "too-short")
        get_settings.cache_clear()
        with pytest.raises(ValueError, match="EncodingAESKey"):
            WeChatInput.from_credentials({})
    finally:
        get_settings.cache_clear()


def test_importing_the_channel_opens_no_connection():
    import subprocess
    import sys

    from bot.settings import ROOT

    probe = (
        "import socket\n"
        "def refuse(*a, **k): raise AssertionError('network I/O at import time')\n"
        "socket.socket.connect = refuse\n"
        "import bot.channels.wechat\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=ROOT)
