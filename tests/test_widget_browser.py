"""The web chat widget in a real browser against the real bot.

Debian's chromium (``/usr/bin/chromium``) driven by Playwright's async API on
the module's event loop; one browser for the module, a fresh browser context
(its own localStorage: one customer's device) per test. The bot is real: the
Rasa server, the action server and the agents' console started once for the
module as test_handoff_e2e does (its ``stack`` fixture: own SQLite database
with the demo agents, the processes' clock on Friday 27 November 2026 10:00),
and the widget app (``bot.widget.app.create_app``) in this process on a free
port, pointing browsers at that Rasa.

Whether a message reached Rasa, and how often, is read from Rasa's tracker.
"""
from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from dataclasses import dataclass, field
from typing import Any, List

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.handoff.models import CaseStatus
from bot.widget.app import create_app
from browser_fixtures import Page, browser, event_loop, expect  # noqa: F401  (fixtures)
from test_handoff_e2e import Agent, case_of, stack  # noqa: F401  (stack: a fixture, found by name)


pytestmark = pytest.mark.server

ANSWER = 30_000  # ms: how long the bot may take to answer in a browser assertion
FAQ = "人工服务几点上班"
RELATED = "节假日有人工服务吗？"


# --- the browser, the widget app ----------------------------------------------------------


@pytest.fixture(scope="module")
async def widget(stack, settings):  # noqa: F811
    """The widget app on 127.0.0.1, its demo page talking to the module's Rasa."""
    server = TestServer(create_app(settings, rasa_url=stack.rasa_url), host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


@dataclass
class Chat:
    """One customer's page with the widget, and what it offers to a person."""

    page: "Page"

    @property
    def launcher(self):
        return self.page.get_by_role("button", name=re.compile("^在线客服"))

    @property
    def input(self):
        return self.page.get_by_role("textbox", name="输入您的问题")

    @property
    def log(self):
        return self.page.get_by_role("log", name="对话记录")

    @property
    def status(self):
        return self.page.locator("kefu-widget .kw-status")

    @property
    def messages(self):
        return self.page.locator("kefu-widget li.kw-msg:not(.kw-welcome)")

    def said(self, role: str):
        return self.page.locator(f"kefu-widget li.kw-{role}:not(.kw-welcome)")

    def reply(self, title: str):
        return self.page.get_by_role("button", name=title, exact=True)

    async def open(self) -> None:
        await self.launcher.click()
        await expect(self.input).to_be_focused()
        await expect(self.status).to_have_text("在线")

    async def say(self, text: str) -> None:
        await self.input.fill(text)
        await self.input.press("Enter")

    async def session_id(self) -> str:
        return (await self.page.evaluate("KefuWidget.status()"))["sessionId"]


@dataclass
class Customers:
    browser: Any
    contexts: List[Any] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    async def context(self, **options: Any):
        options = {"locale": "zh-CN", "viewport": {"width": 1280, "height": 800}, **options}
        context = await self.browser.new_context(**options)
        self.contexts.append(context)
        return context

    async def chat(self, url: str, context=None, **options: Any) -> Chat:
        context = context or await self.context(**options)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        await page.goto(url)
        await expect(page.get_by_role("button", name=re.compile("^在线客服"))).to_be_visible()
        return Chat(page)

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def customers(browser):
    opened = Customers(browser)
    yield opened
    await opened.close()
    assert opened.errors == [], f"JavaScript errors on the page: {opened.errors}"


async def user_lines(rasa_url: str, session_id: str) -> List[dict]:
    """The customer's messages as Rasa recorded them (text and the widget's client id)."""
    def fetch() -> List[dict]:
        url = f"{rasa_url}/conversations/{session_id}/tracker"
        with urllib.request.urlopen(url, timeout=30) as response:
            events = json.load(response)["events"]
        return [
            {"text": e.get("text"), "client_id": (e.get("metadata") or {}).get("client_id")}
            for e in events if e["event"] == "user"
        ]

    return await asyncio.to_thread(fetch)


async def rasa_heard(rasa_url: str, session_id: str, expected: List[str], settle: float = 0) -> List[dict]:
    """The customer's lines once Rasa's tracker holds exactly ``expected``.

    Rasa saves a conversation after its replies are out, so a reply on the
    page may come before the tracker has the line: poll. ``settle``: seconds
    to wait then and check again that nothing more (a duplicate) came in."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        lines = await user_lines(rasa_url, session_id)
        texts = [line["text"] for line in lines]
        if texts == expected:
            break
        if len(texts) > len(expected) or loop.time() > deadline:
            raise AssertionError(f"Rasa heard {texts}, expected {expected}")
        await asyncio.sleep(0.2)
    if settle:
        await asyncio.sleep(settle)
        again = [line["text"] for line in await user_lines(rasa_url, session_id)]
        assert again == expected, f"Rasa heard {again}, expected {expected}"
    return lines


async def texts_of(locator) -> List[str]:
    return [text.strip() for text in await locator.locator(".kw-bubble").all_text_contents()]


# --- asking, answers, related questions, a reload ------------------------------------------


async def test_an_answer_its_related_questions_and_the_history_after_a_reload(
    customers: Customers, widget: str, stack  # noqa: F811
):
    chat = await customers.chat(widget + "/")
    await chat.open()
    # The typing indicator is recorded as the page shows it (it may be brief).
    await chat.page.evaluate(
        """() => {
            const typing = document.querySelector('kefu-widget').shadowRoot.querySelector('.kw-typing');
            window.__typingShown = false;
            new MutationObserver(() => { if (!typing.hidden) window.__typingShown = true; })
                .observe(typing, {attributes: true});
        }"""
    )

    await chat.say(FAQ)

    await expect(chat.said("user")).to_have_text([re.compile("^我：" + FAQ)])
    await expect(chat.input).to_have_value("")
    answer = chat.said("bot").filter(has_text="9:00-22:00")
    await expect(answer).to_have_count(1, timeout=ANSWER)
    await expect(chat.reply(RELATED)).to_be_visible()
    await expect(chat.page.locator("kefu-widget .kw-typing")).to_be_hidden()
    assert await chat.page.evaluate("window.__typingShown") is True
    # Every line has its time (the browser's local time) in a <time> element.
    stamp = answer.locator("time")
    assert re.fullmatch(r"\d\d:\d\d", (await stamp.text_content()).strip())
    assert await stamp.get_attribute("datetime")

    # A related question: its title is the customer's line, its answer follows.
    await chat.reply(RELATED).click()
    await expect(chat.said("user").last).to_contain_text(RELATED)
    await expect(chat.said("bot").filter(has_text="节假日期间")).to_have_count(1, timeout=ANSWER)
    await expect(chat.input).to_be_focused()
    await expect(chat.page.locator("kefu-widget .kw-typing")).to_be_hidden()
    before = await texts_of(chat.messages)
    session = await chat.session_id()

    # A reload: the same session, the whole conversation shown again, nothing resent.
    await chat.page.reload()
    await expect(chat.input).to_be_visible()  # the panel stays open in this tab
    await expect(chat.status).to_have_text("在线")
    await expect(chat.messages).to_have_count(len(before))
    assert await texts_of(chat.messages) == before
    assert await chat.session_id() == session
    await expect(chat.reply(RELATED)).to_be_visible()

    # The conversation goes on after the reload: answers reach the new page.
    await chat.say("服务热线是24小时的吗？")
    await expect(chat.messages).to_have_count(len(before) + 3, timeout=ANSWER)
    lines = await rasa_heard(stack.rasa_url, session, [FAQ, RELATED, "服务热线是24小时的吗？"], settle=0.5)
    assert len({line["client_id"] for line in lines}) == 3


# --- a network drop ---------------------------------------------------------------------------


async def test_a_message_typed_offline_is_sent_once_back_online(
    customers: Customers, widget: str, stack  # noqa: F811
):
    chat = await customers.chat(widget + "/")
    await chat.open()
    await chat.say("你好")
    await expect(chat.reply("怎么预约办理业务？")).to_be_visible(timeout=ANSWER)
    session = await chat.session_id()

    await chat.page.context.set_offline(True)
    await expect(chat.status).to_contain_text("网络已断开")
    await chat.say("怎么预约办理业务？")
    waiting = chat.said("user").last
    await expect(waiting).to_contain_text("怎么预约办理业务？")
    await expect(waiting.locator(".kw-pending")).to_have_text("待发送")
    await expect(chat.status).to_contain_text("1条消息待发送")
    await asyncio.sleep(1)
    await rasa_heard(stack.rasa_url, session, ["你好"])

    await chat.page.context.set_offline(False)
    await expect(chat.status).to_have_text("在线", timeout=15_000)
    await expect(waiting.locator(".kw-pending")).to_have_count(0)
    await expect(chat.said("bot").filter(has_text="线上预约")).to_have_count(1, timeout=ANSWER)
    lines = await rasa_heard(stack.rasa_url, session, ["你好", "怎么预约办理业务？"], settle=1)
    assert len({line["client_id"] for line in lines}) == 2


async def test_a_queued_message_outlives_an_outage_and_a_reload_and_is_sent_once(
    customers: Customers, widget: str, stack  # noqa: F811
):
    """The server is unreachable (the browser online): socket.io reconnects by
    itself; the queue is in localStorage, so a reload in between loses nothing."""
    context = await customers.context()
    cut = {"on": False}
    open_sockets = []

    async def rasa_socket(route) -> None:
        if cut["on"]:
            await route.close()
        else:
            open_sockets.append(route)
            route.connect_to_server()

    rasa_port = stack.rasa_url.rsplit(":", 1)[1]
    await context.route_web_socket(re.compile(rf"^ws://127\.0\.0\.1:{rasa_port}/"), rasa_socket)
    chat = await customers.chat(widget + "/", context=context)
    await chat.open()
    await chat.say(FAQ)
    await expect(chat.reply(RELATED)).to_be_visible(timeout=ANSWER)
    session = await chat.session_id()

    cut["on"] = True
    for route in open_sockets:
        await route.close()
    await expect(chat.status).to_contain_text("正在重新连接")
    await chat.say("预约之后可以改时间吗")
    await expect(chat.said("user").last.locator(".kw-pending")).to_have_text("待发送")

    await chat.page.reload()
    await expect(chat.input).to_be_visible()
    await expect(chat.said("user").last).to_contain_text("预约之后可以改时间吗")
    await expect(chat.said("user").last.locator(".kw-pending")).to_have_text("待发送")
    await expect(chat.status).to_contain_text("1条消息待发送")
    await asyncio.sleep(1)
    await rasa_heard(stack.rasa_url, session, [FAQ])

    cut["on"] = False  # an attempt under way may wait out its 8 s handshake timeout
    await expect(chat.status).to_have_text("在线", timeout=30_000)
    await expect(chat.said("user").last.locator(".kw-pending")).to_have_count(0)
    await expect(chat.said("bot")).to_have_count(4, timeout=ANSWER)  # 2 answers, each + related
    await rasa_heard(stack.rasa_url, session, [FAQ, "预约之后可以改时间吗"], settle=1)

    # A button whose payload is an intent: the title is shown, the payload sent.
    await chat.reply("修改我的预约").click()
    await expect(chat.said("user").last.locator(".kw-bubble")).to_have_text("修改我的预约")
    await expect(chat.said("bot")).to_have_count(5, timeout=ANSWER)
    await rasa_heard(stack.rasa_url, session, [FAQ, "预约之后可以改时间吗", "/change_appointment"])


# --- input methods, a phone, markup -------------------------------------------------------


async def test_enter_in_an_open_chinese_input_method_composition_does_not_send(
    customers: Customers, widget: str, stack  # noqa: F811
):
    chat = await customers.chat(widget + "/")
    await chat.open()
    session = await chat.session_id()

    # A real composition (Chrome's IME emulation): Enter arrives with isComposing.
    cdp = await chat.page.context.new_cdp_session(chat.page)
    await cdp.send("Input.imeSetComposition", {"text": "rengong", "selectionStart": 7, "selectionEnd": 7})
    await chat.page.keyboard.press("Enter")
    await cdp.send("Input.insertText", {"text": "人工服务"})
    # Synthetic events as other input methods send them: isComposing, keyCode 229.
    await chat.input.fill("人工服务几点")
    await chat.page.evaluate(
        """() => {
            const input = document.querySelector('kefu-widget').shadowRoot.querySelector('textarea');
            input.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
            input.dispatchEvent(new KeyboardEvent('keydown',
                {key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true}));
            input.dispatchEvent(new CompositionEvent('compositionend', {data: '几点'}));
            input.dispatchEvent(new KeyboardEvent('keydown',
                {key: 'Enter', code: 'Enter', keyCode: 229, bubbles: true, cancelable: true}));
        }"""
    )
    await asyncio.sleep(0.5)
    await expect(chat.said("user")).to_have_count(0)
    assert (await chat.page.evaluate("KefuWidget.status()"))["queued"] == 0
    await expect(chat.input).to_have_value("人工服务几点")

    # The composition over, Enter sends.
    await chat.input.press("Enter")
    await expect(chat.said("user")).to_have_count(1)
    await expect(chat.said("bot").filter(has_text="9:00-22:00")).to_have_count(1, timeout=ANSWER)
    await rasa_heard(stack.rasa_url, session, ["人工服务几点"])


async def test_on_a_360_px_phone_the_chat_fills_the_screen_and_works(
    customers: Customers, widget: str
):
    chat = await customers.chat(
        widget + "/", viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
        device_scale_factor=2,
    )
    launcher = await chat.launcher.bounding_box()
    assert launcher["x"] >= 0 and launcher["x"] + launcher["width"] <= 360

    await chat.launcher.tap()
    await expect(chat.status).to_have_text("在线")
    panel = await chat.page.locator("kefu-widget .kw-panel").bounding_box()
    assert (panel["x"], panel["y"], panel["width"], panel["height"]) == (0, 0, 360, 640)
    await expect(chat.launcher).to_be_hidden()  # the panel covers it; 收起 closes
    await chat.input.fill("你好")
    await chat.page.get_by_role("button", name="发送").tap()
    replies = chat.page.locator("kefu-widget .kw-reply")
    await expect(replies.first).to_be_visible(timeout=ANSWER)
    await expect(chat.reply("怎么预约办理业务？")).to_be_visible()

    # Everything within the 360 px: no sideways scrolling, touch targets of 44 px.
    for locator in (chat.input, chat.page.get_by_role("button", name="发送"), *[
        replies.nth(i) for i in range(await replies.count())
    ]):
        box = await locator.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    send = await chat.page.get_by_role("button", name="发送").bounding_box()
    assert send["height"] >= 44 and send["y"] + send["height"] <= 640
    overflow = await chat.page.evaluate(
        """() => {
            const log = document.querySelector('kefu-widget').shadowRoot.querySelector('.kw-log');
            return [document.documentElement.scrollWidth, log.scrollWidth, log.clientWidth];
        }"""
    )
    assert overflow[0] <= 360 and overflow[1] <= overflow[2], overflow

    await chat.reply("怎么预约办理业务？").tap()
    await expect(chat.said("user").last).to_contain_text("怎么预约办理业务？")
    await expect(chat.said("bot").filter(has_text="线上预约")).to_have_count(1, timeout=ANSWER)
    await chat.page.get_by_role("button", name="收起在线客服窗口").tap()
    await expect(chat.launcher).to_be_visible()
    await expect(chat.launcher).to_be_focused()


async def test_markup_a_customer_types_is_shown_as_text_and_only_web_links_are_links(
    customers: Customers, widget: str
):
    chat = await customers.chat(widget + "/")
    await chat.open()
    typed = (
        '<img src=x onerror="window.__pwned=1"><b>粗体</b> 看 https://example.com/a?b=1&c=2。'
        " javascript:alert(1) 和 http://例子.com 以及 (见 https://example.org/x_(1))"
    )

    await chat.say(typed)

    line = chat.said("user").last
    await expect(line.locator(".kw-bubble")).to_have_text(typed)
    links = line.locator("a")
    await expect(links).to_have_count(2)
    assert await links.nth(0).get_attribute("href") == "https://example.com/a?b=1&c=2"
    assert await links.nth(0).text_content() == "https://example.com/a?b=1&c=2"
    assert await links.nth(0).get_attribute("target") == "_blank"
    assert "noopener" in await links.nth(0).get_attribute("rel")
    assert await links.nth(1).get_attribute("href") == "https://example.org/x_(1)"
    await expect(line.locator("img, b, script")).to_have_count(0)
    await expect(chat.said("bot")).to_have_count(1, timeout=ANSWER)  # out of scope, politely
    await asyncio.sleep(0.3)
    assert await chat.page.evaluate("window.__pwned") is None
    await expect(chat.page.locator("kefu-widget img")).to_have_count(0)

    # Restored from localStorage after a reload: still text.
    await chat.page.reload()
    await expect(chat.said("user").last.locator(".kw-bubble")).to_have_text(typed)
    await expect(chat.page.locator("kefu-widget img")).to_have_count(0)
    assert await chat.page.evaluate("window.__pwned") is None

    # 结束 (after a confirmation) forgets the conversation on this device.
    old = await chat.session_id()
    chat.page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await chat.page.get_by_role("button", name="结束对话并清除本机聊天记录").click()
    await expect(chat.messages).to_have_count(0)
    assert await chat.session_id() != old
    kept = await chat.page.evaluate("Object.keys(localStorage).filter((key) => key.includes('" + old + "'))")
    assert kept == []
    await expect(chat.input).to_be_focused()
    await expect(chat.status).to_have_text("在线")


# --- a person takes over ------------------------------------------------------------------


async def test_an_agents_message_during_a_handoff_is_marked_with_the_agents_name(
    customers: Customers, widget: str, stack  # noqa: F811
):
    chat = await customers.chat(widget + "/")
    await chat.open()
    await chat.say("转人工")
    await expect(chat.said("bot").filter(has_text="服务单号")).to_have_count(1, timeout=ANSWER)
    case = case_of(stack, await chat.session_id(), CaseStatus.WAITING)
    assert case is not None

    lina = await Agent(stack.console_url, stack.agent_password).login("agent1")
    try:
        claimed = await lina.post(f"/api/cases/{case.number}/claim")
        assert claimed["delivered"] is True
        await expect(chat.said("bot").filter(has_text="我是客服李娜")).to_have_count(1, timeout=ANSWER)
        sent = await lina.post(
            f"/api/cases/{case.number}/messages",
            {"text": "您好，请看 https://www.example.com/help <b>这里</b>"},
        )
        assert sent["delivered"] is True
    finally:
        await lina.close()

    from_agent = chat.said("agent")
    await expect(from_agent).to_have_count(1, timeout=ANSWER)
    await expect(from_agent.locator(".kw-agent-label")).to_have_text("客服李娜")
    await expect(from_agent.locator(".kw-bubble")).to_have_text(
        "您好，请看 https://www.example.com/help <b>这里</b>"
    )
    assert await from_agent.locator("a").get_attribute("href") == "https://www.example.com/help"
    await expect(from_agent.locator("b")).to_have_count(0)
    styles = await chat.page.evaluate(
        """() => {
            const root = document.querySelector('kefu-widget').shadowRoot;
            const colour = (selector) => getComputedStyle(root.querySelector(selector)).backgroundColor;
            return [colour('li.kw-agent .kw-bubble'), colour('li.kw-bot:not(.kw-welcome) .kw-bubble')];
        }"""
    )
    assert styles[0] != styles[1]  # an agent's line looks unlike the bot's

    # The customer answers the agent; the bot stays silent while a person handles it.
    await chat.say("好的，谢谢")
    await asyncio.sleep(2)
    await expect(chat.said("bot").filter(has_text="抱歉")).to_have_count(0)
    await expect(chat.page.locator("kefu-widget .kw-typing")).to_be_hidden()


# --- any page, one tag ----------------------------------------------------------------------


HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>某网站</title>
<style>* {{ color: lime !important; font-size: 40px !important; }} button {{ display: none !important; }}</style>
</head><body><h1>另一个网站</h1><a href="#">页面链接</a>
<script src="{widget}/widget.js" data-rasa-url="{rasa}" data-title="在线客服小助手"></script>
</body></html>"""


@pytest.fixture
async def other_site(widget, stack):  # noqa: F811
    """Another site on another origin (localhost, its own port) with the one tag."""
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=HOST_PAGE.format(widget=widget, rasa=stack.rasa_url), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://localhost:{server.port}/"
    await server.close()


async def test_one_tag_on_another_site_keeps_to_itself_and_works_by_keyboard(
    customers: Customers, other_site: str
):
    context = await customers.context()
    # What the page had before the widget: its globals, an AMD loader, an `io` of its own.
    await context.add_init_script(
        """
        window.__globalsBefore = Object.getOwnPropertyNames(window);
        window.io = 'the page’s own io';
        window.define = function () { throw new Error('the widget called the page’s define'); };
        window.define.amd = {};
        """
    )
    chat = await customers.chat(other_site, context=context)
    added = await chat.page.evaluate(
        """() => Object.getOwnPropertyNames(window)
            .filter((name) => !window.__globalsBefore.includes(name) && !name.startsWith('__playwright'))"""
    )
    assert sorted(added) == ["KefuWidget", "__globalsBefore", "define", "io"]
    assert await chat.page.evaluate("window.io") == "the page’s own io"
    assert await chat.page.evaluate("Object.isFrozen(window.KefuWidget)") is True
    # The page's CSS does not reach inside (its buttons are hidden, ours are not).
    await expect(chat.launcher).to_be_visible()
    size = await chat.launcher.evaluate("(node) => getComputedStyle(node).fontSize")
    assert size == "15px"

    # Keyboard only: Tab reaches the launcher, Enter opens, focus in the input.
    await chat.page.keyboard.press("Tab")  # the page's link
    await chat.page.keyboard.press("Tab")
    await expect(chat.launcher).to_be_focused()
    await expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    await chat.page.keyboard.press("Enter")
    await expect(chat.launcher).to_have_attribute("aria-expanded", "true")
    await expect(chat.input).to_be_focused()
    await expect(chat.page.get_by_role("dialog", name="在线客服小助手")).to_be_visible()
    await expect(chat.log).to_have_attribute("aria-live", "polite")
    await expect(chat.status).to_have_text("在线")
    await chat.page.keyboard.type("人工服务几点上班")
    await chat.page.keyboard.press("Enter")
    await expect(chat.said("bot").filter(has_text="9:00-22:00")).to_have_count(1, timeout=ANSWER)
    # Tab from the input reaches 发送; Escape closes and gives focus back to the launcher.
    await chat.page.keyboard.press("Tab")
    await expect(chat.page.get_by_role("button", name="发送")).to_be_focused()
    await chat.page.keyboard.press("Escape")
    await expect(chat.input).to_be_hidden()
    await expect(chat.launcher).to_be_focused()
    await expect(chat.launcher).to_have_attribute("aria-expanded", "false")


async def test_a_second_tab_shows_the_conversation_and_can_take_it_over(
    customers: Customers, widget: str, stack  # noqa: F811
):
    context = await customers.context()
    first = await customers.chat(widget + "/", context=context)
    await first.open()
    await first.say(FAQ)
    await expect(first.reply(RELATED)).to_be_visible(timeout=ANSWER)
    session = await first.session_id()

    second = await customers.chat(widget + "/", context=context)
    await second.launcher.click()
    await expect(second.page.get_by_text("对话已在本网站的另一个窗口中进行")).to_be_visible()
    await expect(second.input).to_be_disabled()
    await expect(second.messages).to_have_count(3)

    await second.page.get_by_role("button", name="在此窗口继续对话").click()
    await expect(second.status).to_have_text("在线")
    await expect(first.page.get_by_text("对话已在本网站的另一个窗口中进行")).to_be_visible()
    await expect(first.input).to_be_disabled()
    await second.reply(RELATED).click()
    await expect(second.said("bot").filter(has_text="节假日期间")).to_have_count(1, timeout=ANSWER)

    # Closing the active tab hands the conversation back, with what was said meanwhile.
    await second.page.close()
    await expect(first.status).to_have_text("在线")
    await expect(first.said("bot").filter(has_text="节假日期间")).to_have_count(1)
    await rasa_heard(stack.rasa_url, session, [FAQ, RELATED], settle=0.5)
