"""The agents' console in a real browser: Debian's chromium, driven by
Playwright's async API on the test's own event loop, against the console
served on a real TCP port of 127.0.0.1 (SQLite, the demo agents, a fixed clock).

One headless browser for the module, a fresh browser context (its own cookies:
one agent) per agent per test. Chromium is Debian's ``/usr/bin/chromium``
(``.ci/ensure-chromium`` installs it); Playwright downloads no browser.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Dict, List

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.console.context import CUSTOMER_LINE, HUB
from bot.console.watcher import tick
from bot.db.engine import dispose_engine, unit_of_work
from bot.db.migrate import upgrade
from bot.handoff import customer_texts
from bot.handoff.models import HandoffReason
from bot.handoff.repositories import AgentRepository, CaseRepository
from browser_fixtures import Page, browser, event_loop, expect  # noqa: F401  (fixtures)
from test_console_fixtures import (  # noqa: F401  (fixtures are found by name)
    INTERNAL_TOKEN,
    MINUTE,
    NOW,
    PASSWORD,
    T0,
    calendar,
    customer_says,
    db,
    fast_seeding,
    make_app,
    open_case,
    stored,
)


PHONE = "13812345678"
ID_CARD = "11010519491231002X"


# --- the browser, the server, the agents --------------------------------------------


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: the API tests cover PostgreSQL; these cover the browser."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    yield url
    dispose_engine(url)


@dataclass
class Console:
    app: Any
    server: TestServer
    db: str
    calendar: Any

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def hub(self):
        return self.app[HUB]

    @property
    def customer_line(self):
        """test_console_fixtures' RecordingLine: what customers were sent."""
        return self.app[CUSTOMER_LINE]

    async def bot_opens_case(self, conversation: str = "alice", **options: Any) -> str:
        """A case as the bot opens it, then the customer's line that asked for
        a person, relayed from Rasa as bot.handoff.relay does: the console
        then tells every agent's queue."""
        number = open_case(self.db, self.calendar, conversation, **options)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.origin}/internal/customer-messages",
                json={"conversation_id": conversation, "text": "转人工"},
                headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
            ) as response:
                assert response.status == 200, await response.text()
        return number


@pytest.fixture
async def console(db, calendar):  # noqa: F811
    server = TestServer(make_app(db, calendar), host="127.0.0.1")
    await server.start_server()
    yield Console(server.app, server, db, calendar)
    await server.close()


@dataclass
class Agents:
    """Opens a browser context per agent; all are closed after the test."""

    browser: Any
    console: Console
    contexts: List[Any] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)

    async def page(self) -> "Page":
        context = await self.browser.new_context(
            locale="zh-CN", viewport={"width": 1280, "height": 900}
        )
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        await page.goto(self.console.origin + "/")
        await expect(page.get_by_role("heading", name="坐席登录")).to_be_visible()
        return page

    async def logged_in(self, username: str) -> "Page":
        """``username``'s console, logged in through the form, live."""
        connected = len(self.console.hub)
        page = await self.page()
        await submit_login(page, username, PASSWORD)
        await expect(page.locator("#desk-view")).to_be_visible()
        await expect(page.locator("#live")).to_have_text("实时")
        await until(lambda: len(self.console.hub) == connected + 1)
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def agents(browser, console):
    opened = Agents(browser, console)
    yield opened
    await opened.close()
    assert opened.errors == [], f"JavaScript errors in the console: {opened.errors}"


async def submit_login(page: "Page", username: str, password: str) -> None:
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录", exact=True).click()


async def until(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def queue_item(page: "Page", number: str):
    return page.locator(f"#queue li[data-number='{number}']")


def claim_directly(db: str, number: str, username: str) -> None:
    """A claim made elsewhere (another console process): this console's hub hears nothing."""
    with unit_of_work(db) as session:
        repo = CaseRepository(session)
        agent = AgentRepository(session).by_username(username)
        repo.claim(repo.by_number(number), agent, NOW)


async def api_post(page: "Page", path: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """A POST from the page itself with the session's CSRF token, as a
    tampering agent could send it from the browser's developer tools."""
    return await page.evaluate(
        """async ([path, body]) => {
            const me = await (await fetch('/api/me')).json();
            const response = await fetch(path, {
                method: 'POST', body: JSON.stringify(body),
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
            });
            return {status: response.status, body: await response.json()};
        }""",
        [path, body],
    )


# --- logging in -------------------------------------------------------------------------


async def test_a_wrong_password_is_refused_and_the_right_one_shows_the_queue(
    agents: Agents, console: Console
):
    number = await console.bot_opens_case()
    page = await agents.page()

    await submit_login(page, "agent1", "not-the-password")

    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#desk-view")).to_be_hidden()
    await expect(page.locator("#whoami")).to_be_hidden()
    assert (await page.request.get(console.origin + "/api/me")).status == 401

    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录", exact=True).click()

    await expect(page.locator("#desk-view")).to_be_visible()
    await expect(page.locator("#login-view")).to_be_hidden()
    await expect(page.locator("#agent-name")).to_have_text("李娜（agent1）")
    await expect(page.locator("#agent-role")).to_have_text("客服")
    await expect(queue_item(page, number)).to_be_visible()
    await expect(page.locator("#queue-count")).to_have_text("（1）")
    await expect(page.locator("#live")).to_have_text("实时")
    assert await page.get_by_label("密码").input_value() == ""

    # The session outlives a reload; logging out ends it and leaves no case in the page.
    await page.reload()
    await expect(queue_item(page, number)).to_be_visible()
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#desk-view")).to_be_hidden()
    await expect(page.locator("#desk-view li")).to_have_count(0)
    assert f"<strong>{number}</strong>" not in await page.content()
    assert (await page.request.get(console.origin + "/api/me")).status == 401


# --- two agents side by side ------------------------------------------------------------


async def test_two_agents_see_a_case_arrive_live_and_one_claims_it(
    agents: Agents, console: Console
):
    li = await agents.logged_in("agent1")
    wang = await agents.logged_in("agent2")
    for page in (li, wang):
        await expect(page.locator("#queue-empty")).to_have_text("暂无排队客户")

    number = await console.bot_opens_case(
        summary={"question": f"我的手机号{PHONE}，信用卡被冻结了", "intent": "ask_card_frozen"}
    )
    customer_says(console.db, number, f"手机号{PHONE}，身份证号{ID_CARD}，请帮我查一下")

    # Over the websocket, without a reload.
    for page in (li, wang):
        await expect(queue_item(page, number)).to_be_visible()
        await expect(queue_item(page, number)).to_contain_text("138****5678")
        await expect(page.locator("#queue-count")).to_have_text("（1）")
    # Wang looks at the waiting case (any agent may, to pick one) but does not claim it yet.
    await queue_item(wang, number).click()
    await expect(wang.locator("#case-title")).to_have_text(f"工单 {number}")
    await expect(wang.get_by_role("button", name="接入此工单")).to_be_visible()

    await queue_item(li, number).get_by_role("button", name="接入").click()

    await expect(li.locator("#notice")).to_have_text(f"已接入工单 {number}，您是首问责任人")
    await expect(li.locator("#case-title")).to_have_text(f"工单 {number}")
    await expect(li.locator("#case-tags")).to_contain_text("处理中")
    await expect(li.locator("#case-meta")).to_contain_text("李娜")
    transcript = li.locator("#transcript")
    # The relayed line that asked for a person (转人工) is in the transcript too.
    await expect(transcript.locator("li.customer")).to_have_count(2)
    asked = transcript.locator("li.customer", has_text="请帮我查一下")
    await expect(asked).to_contain_text("138****5678")
    await expect(asked).to_contain_text("110***********002X")
    await expect(li.locator("#mine li[data-number='%s']" % number)).to_be_visible()
    await expect(queue_item(li, number)).to_have_count(0)
    for page in (li, wang):
        html = await page.content()
        assert PHONE not in html and ID_CARD not in html and "19491231" not in html
    assert stored(console.db, number, "owner", "status") == ("agent1", "open")
    assert console.customer_line.texts("alice") == [customer_texts.agent_joined("李娜", number)]

    # Wang's queue loses the case live, and his stale copy of it leaves the screen.
    await expect(queue_item(wang, number)).to_have_count(0)
    await expect(wang.locator("#queue-empty")).to_be_visible()
    await expect(wang.locator("#case")).to_be_hidden()
    await expect(wang.locator("#notice")).to_contain_text(f"工单 {number} 已不在您的处理范围内")
    assert await wang.get_by_role("button", name="接入此工单").is_hidden()

    # Opening it by number is refused, and shows nothing of it.
    await wang.get_by_label("工单号").fill(number)
    await wang.get_by_role("button", name="打开").click()
    await expect(wang.locator("#notice")).to_have_text("您无权查看该工单")
    await expect(wang.locator("#case")).to_be_hidden()
    assert "110***********002X" not in await wang.content()
    assert stored(console.db, number, "owner") == ("agent1",)


async def test_a_claim_that_lost_the_race_names_the_colleague_who_won(
    agents: Agents, console: Console
):
    number = await console.bot_opens_case()
    wang = await agents.logged_in("agent2")
    await expect(queue_item(wang, number)).to_be_visible()
    claim_directly(console.db, number, "agent1")  # Wang's queue has not heard yet

    await queue_item(wang, number).get_by_role("button", name="接入").click()

    await expect(wang.locator("#notice")).to_have_text("该会话已由李娜接手")
    await expect(wang.locator("#notice")).to_have_class("notice error")
    await expect(queue_item(wang, number)).to_have_count(0)  # the refusal refreshes the queue
    await expect(wang.locator("#case")).to_be_hidden()
    await expect(wang.locator("#mine li")).to_have_count(0)
    assert stored(console.db, number, "owner") == ("agent1",)


# --- working on a case ------------------------------------------------------------------


async def test_the_owner_writes_to_the_customer_adds_a_note_and_closes_with_a_resolution(
    agents: Agents, console: Console
):
    number = await console.bot_opens_case()
    customer_says(console.db, number, "我的信用卡还是用不了<img src=x onerror=alert(1)>")
    claim_directly(console.db, number, "agent1")
    li = await agents.logged_in("agent1")
    await li.locator(f"#mine li[data-number='{number}']").click()
    await expect(li.locator("#case-title")).to_have_text(f"工单 {number}")
    # What customers type is shown as text, never run as markup.
    await expect(li.locator("#transcript li.customer", has_text="用不了")).to_contain_text(
        "用不了<img src=x onerror=alert(1)>"
    )
    await expect(li.locator("#case img")).to_have_count(0)

    await li.get_by_label("回复内容").fill("您好，我来为您处理信用卡冻结的问题。")
    await li.get_by_role("button", name="发送").click()
    reply = li.locator("#transcript li.agent", has_text="我来为您处理信用卡冻结的问题")
    await expect(reply).to_be_visible()
    await expect(reply).to_have_class("agent")
    await expect(reply.locator(".who")).not_to_contain_text("内部备注")
    await expect(li.get_by_label("回复内容")).to_have_value("")
    await expect(li.locator("#notice")).to_be_hidden()
    reply_text = customer_texts.agent_says("李娜", "您好，我来为您处理信用卡冻结的问题。")
    assert console.customer_line.texts("alice") == [reply_text]

    await li.get_by_label("内部备注（客户不可见）").check()
    await li.get_by_label("回复内容").fill("客户情绪较急，已核实为风控冻结。")
    await li.get_by_role("button", name="发送").click()
    note = li.locator("#transcript li.private", has_text="已核实为风控冻结")
    await expect(note).to_be_visible()
    await expect(note.locator(".who")).to_contain_text("内部备注")
    # The customer's two lines (the relayed 转人工 among them), the reply, the note.
    await expect(li.locator("#transcript li")).to_have_count(4)
    await expect(li.locator("#transcript li.private")).to_have_count(1)
    assert console.customer_line.texts("alice") == [reply_text]  # a note never leaves

    # The customer's channel is down: the reply is kept, and the agent is told it did not arrive.
    console.customer_line.accepts = False
    await li.get_by_label("内部备注（客户不可见）").uncheck()
    await li.get_by_label("回复内容").fill("请您稍等。")
    await li.get_by_role("button", name="发送").click()
    await expect(li.locator("#notice")).to_have_text(
        "消息已保存在工单中，但未能送达客户（客户通道暂不可用）"
    )
    await expect(li.locator("#transcript li.agent", has_text="请您稍等。")).to_be_visible()
    console.customer_line.accepts = True

    # Closing without a resolution note: the form itself refuses, nothing is sent.
    closes: List[str] = []

    def count_close(request) -> None:
        if request.url.endswith("/close"):
            closes.append(request.url)

    li.on("request", count_close)
    close_note = li.get_by_label("办结说明")
    await li.get_by_role("button", name="办结").click()
    assert await close_note.evaluate("input => input.validity.valueMissing") is True
    # Blanks only pass the browser's check; the console refuses them.
    await close_note.fill("   ")
    await li.get_by_role("button", name="办结").click()
    await expect(li.locator("#notice")).to_have_text("请填写办结说明")
    await expect(li.locator("#case-tags")).to_contain_text("处理中")
    assert len(closes) == 1
    assert stored(console.db, number, "status") == ("open",)

    await close_note.fill("已协助客户解除风控冻结，客户确认可以正常用卡。")
    await li.get_by_role("button", name="办结").click()

    await expect(li.locator("#case-tags")).to_contain_text("已办结")
    await expect(li.locator("#notice")).to_have_text("工单已办结")
    assert console.customer_line.texts("alice")[-1] == customer_texts.CLOSED
    await expect(li.locator("#case-meta")).to_contain_text("已协助客户解除风控冻结")
    await expect(li.locator("#close-form")).to_be_hidden()
    await expect(li.locator("#message-form")).to_be_hidden()
    await expect(li.locator("#events")).to_contain_text("办结")
    await expect(li.locator("#mine li")).to_have_count(0)
    assert stored(console.db, number, "status") == ("closed",)


# --- the supervisor ----------------------------------------------------------------------


async def test_the_supervisor_sees_every_case_and_alone_may_reassign(
    agents: Agents, console: Console
):
    waiting = await console.bot_opens_case("alice")
    lis = await console.bot_opens_case("bob")
    claim_directly(console.db, lis, "agent1")
    wangs = await console.bot_opens_case("carol")
    claim_directly(console.db, wangs, "agent2")

    li = await agents.logged_in("agent1")
    boss = await agents.logged_in("supervisor")
    await expect(boss.locator("#agent-name")).to_have_text("陈主管（supervisor）")
    await expect(boss.locator("#agent-role")).to_have_text("主管")

    everything = boss.locator("#all-cases")
    await expect(boss.locator("#all-card")).to_be_visible()
    await expect(everything.locator("li")).to_have_count(3)
    await expect(everything.locator(f"li[data-number='{waiting}']")).to_contain_text("排队中")
    await expect(everything.locator(f"li[data-number='{lis}']")).to_contain_text("李娜")
    await expect(everything.locator(f"li[data-number='{wangs}']")).to_contain_text("王强")
    # An agent has no such list, and reading it anyway is refused.
    await expect(li.locator("#all-card")).to_be_hidden()
    assert (await li.request.get(console.origin + "/api/cases")).status == 403

    # An agent's own case offers no reassignment, and forcing one is refused.
    await li.locator(f"#mine li[data-number='{lis}']").click()
    await expect(li.locator("#case-title")).to_have_text(f"工单 {lis}")
    await expect(li.get_by_role("button", name="办结")).to_be_visible()
    await expect(li.locator("#reassign-form")).to_be_hidden()
    assert await li.get_by_role("button", name="主管改派").count() == 0
    refused = await api_post(li, f"/api/cases/{lis}/reassign", {"to": "agent2", "reason": "试试"})
    assert refused == {"status": 403, "body": {"error": "只有主管可以改派工单"}}
    assert stored(console.db, lis, "owner") == ("agent1",)

    # The supervisor opens Li's case from the list of all cases and reassigns it to Wang.
    await everything.locator(f"li[data-number='{lis}']").click()
    await expect(boss.locator("#case-title")).to_have_text(f"工单 {lis}")
    # Nothing is preselected: certainly not Li, who owns it already (and is not offered).
    new_owner = boss.get_by_label("新的责任人")
    await expect(new_owner).to_have_value("")
    assert await new_owner.input_value() != "agent1"
    await expect(new_owner.locator("option[value='agent1']")).to_be_disabled()
    await boss.get_by_label("新的责任人").select_option("agent2")
    await boss.get_by_label("改派原因").fill("李娜今天请假")
    await boss.get_by_role("button", name="主管改派").click()

    await expect(boss.locator("#events")).to_contain_text("主管改派")
    await expect(boss.locator("#events")).to_contain_text("李娜今天请假")
    await expect(boss.locator("#case-meta")).to_contain_text("王强")
    await expect(everything.locator(f"li[data-number='{lis}']")).to_contain_text("王强")
    assert stored(console.db, lis, "owner") == ("agent2",)
    # Li hears of it live: the case leaves her desk and her screen.
    await expect(li.locator(f"#mine li[data-number='{lis}']")).to_have_count(0)
    await expect(li.locator("#case")).to_be_hidden()

    # A new case reaches the supervisor's list of all cases live too.
    later = await console.bot_opens_case("dave")
    await expect(everything.locator(f"li[data-number='{later}']")).to_contain_text("排队中")
    await expect(boss.locator("#all-count")).to_have_text("（4）")


async def test_an_overdue_case_is_flagged_to_the_supervisor_and_not_to_agents(
    agents: Agents, console: Console
):
    # Opened at 10:00 and unanswered at 10:30: past its 20 service minutes.
    number = await console.bot_opens_case()
    li = await agents.logged_in("agent1")
    boss = await agents.logged_in("supervisor")
    await expect(queue_item(boss, number)).to_contain_text("已超时")

    # The watcher's events reach Li's page in order: by the time the queue_changed
    # after the breach has made it read the queue again, the breach was handled.
    async with li.expect_response(lambda response: response.url.endswith("/api/queue")):
        found = await tick(console.app)

    assert found.escalated == [number]
    await expect(boss.locator("#notice")).to_have_text(f"工单 {number} 已超过首次响应时限，请督办")
    await expect(boss.locator("#notice")).to_have_class("notice error")
    assert await li.locator("#notice").is_hidden()


async def test_the_supervisor_lists_overdue_cases_live_and_agents_have_no_such_list(
    agents: Agents, console: Console
):
    # Alice's case came at 10:00 and Bob's high-risk one at 10:05 (Li claimed it but
    # has not answered): at the console's 10:30 both are past their 10:20 and
    # 10:25 deadlines. Carol's came at 10:25: due at 10:45, not overdue.
    waiting = await console.bot_opens_case("alice", at=T0)
    lis = await console.bot_opens_case("bob", reason=HandoffReason.HIGH_RISK, at=T0 + 5 * MINUTE)
    claim_directly(console.db, lis, "agent1")
    recent = await console.bot_opens_case("carol", at=NOW - 5 * MINUTE)

    li = await agents.logged_in("agent1")
    boss = await agents.logged_in("supervisor")

    # On load, the earliest deadline first.
    card = boss.locator("#breach-card")
    overdue = boss.locator("#breaches li")
    await expect(card).to_be_visible()
    await expect(card.get_by_role("heading")).to_contain_text("超时工单")
    await expect(overdue).to_have_count(2)
    await expect(boss.locator("#breach-count")).to_have_text("（2）")
    await expect(boss.locator("#breach-empty")).to_be_hidden()
    await expect(overdue.nth(0)).to_have_attribute("data-number", waiting)
    await expect(overdue.nth(1)).to_have_attribute("data-number", lis)
    alice = boss.locator(f"#breaches li[data-number='{waiting}']")
    for text in (waiting, "客户要求转人工", "普通", "未接入", "10:20"):
        await expect(alice).to_contain_text(text)
    bob = boss.locator(f"#breaches li[data-number='{lis}']")
    for text in (lis, "高风险", "紧急", "李娜", "10:25"):
        await expect(bob).to_contain_text(text)
    await expect(boss.locator("#breaches")).not_to_contain_text("已升级")
    await expect(boss.locator(f"#breaches li[data-number='{recent}']")).to_have_count(0)

    # An agent has no such card, and reading the list anyway is refused.
    await expect(li.locator("#breach-card")).to_be_hidden()
    await expect(li.locator("#breaches li")).to_have_count(0)
    refused = await li.request.get(console.origin + "/api/cases/breaches")
    assert refused.status == 403
    assert await refused.json() == {"error": "只有主管可以查看超时工单"}

    # The watcher escalates both: the supervisor's card says so live.
    found = await tick(console.app)
    assert sorted(found.escalated) == sorted([waiting, lis])
    await expect(alice).to_contain_text("已升级")
    await expect(bob).to_contain_text("已升级")
    await expect(overdue).to_have_count(2)
    await expect(li.locator("#breach-card")).to_be_hidden()

    # Clicking an overdue case opens it; reassigning it preselects no one, and
    # never its owner.
    await bob.click()
    await expect(boss.locator("#case-title")).to_have_text(f"工单 {lis}")
    await expect(boss.locator("#reassign-form")).to_be_visible()
    new_owner = boss.get_by_label("新的责任人")
    await expect(new_owner).to_have_value("")
    assert await new_owner.input_value() != "agent1"
    await expect(new_owner.locator("option[value='agent1']")).to_be_disabled()
    # Submitting without a choice is stopped by the form itself.
    await boss.get_by_label("改派原因").fill("李娜未及时响应")
    await boss.get_by_role("button", name="主管改派").click()
    assert await new_owner.evaluate("select => select.validity.valueMissing") is True
    assert stored(console.db, lis, "owner") == ("agent1",)

    await new_owner.select_option("agent2")

    # Li answers her customer at last: the case leaves the card live.
    await li.locator(f"#mine li[data-number='{lis}']").click()
    await li.get_by_label("回复内容").fill("您好，我来为您处理。")
    await li.get_by_role("button", name="发送").click()
    await expect(bob).to_have_count(0)
    await expect(overdue).to_have_count(1)
    await expect(boss.locator("#breach-count")).to_have_text("（1）")
    # The supervisor's open copy of the case is read again live; the choice made
    # so far survives it.
    await expect(boss.locator("#transcript")).to_contain_text("我来为您处理")
    await expect(new_owner).to_have_value("agent2")
