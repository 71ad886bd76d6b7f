"""With the action server down, the bot still answers FAQ questions and says a
lookup is unavailable instead of going silent (bot.rasa_server)."""
from __future__ import annotations

import pytest

from bot.chat import send
from bot.launch import running_bot, write_endpoints
from bot.rasa_server import UNAVAILABLE
from tests.conftest import free_port

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def bot_without_actions(tmp_path_factory, bot):
    """A second stack whose action server is stopped once both are up (the
    session's `bot` must have started first: it checks the trained model)."""
    workdir = tmp_path_factory.mktemp("no-actions")
    action_port = free_port()
    endpoints = write_endpoints(workdir / "endpoints.yml", action_port)
    with running_bot(free_port(), action_port, endpoints=endpoints, log_dir=workdir) as running:
        actions = running.processes[0]
        actions.terminate()
        actions.wait(timeout=30)
        yield running


def texts(messages):
    return [m.get("text") for m in messages]


def test_faq_answers_survive(bot_without_actions, sender):
    replies = texts(send(bot_without_actions.rasa_url, sender, "人工服务时间是什么时候"))
    assert any("9:00-22:00" in (t or "") for t in replies)
    assert UNAVAILABLE not in replies  # the missing related questions are not worth an apology


def test_a_lookup_apologises_instead_of_silence(bot_without_actions, sender):
    replies = texts(send(bot_without_actions.rasa_url, sender, "帮我查下 SQ2026 1120 0001 的进度"))
    assert UNAVAILABLE in replies


def test_the_apology_follows_the_customers_script(bot_without_actions, sender):
    replies = texts(send(bot_without_actions.rasa_url, sender, "幫我查一下申請進度 SQ202611200001"))
    assert "抱歉，查詢和預約服務暫時不可用" in "".join(t or "" for t in replies)


def test_one_apology_per_message_and_the_bot_listens_again(bot_without_actions, sender):
    """A failing lookup, then a wrong answer and giving up: each message gets
    at most one apology, and every turn ends with the bot listening."""
    import json
    import urllib.request

    for message in ["帮我查下 SQ2026 1120 0003 的进度", "0000", "算了"]:
        replies = texts(send(bot_without_actions.rasa_url, sender, message))
        assert replies.count(UNAVAILABLE) <= 1, (message, replies)
    url = f"{bot_without_actions.rasa_url}/conversations/{sender}/tracker"
    with urllib.request.urlopen(url, timeout=30) as response:
        events = json.load(response)["events"]
    actions = [e["name"] for e in events if e["event"] == "action"]
    assert actions[-1] == "action_listen"
    assert actions.count("action_core_fallback") <= 1
