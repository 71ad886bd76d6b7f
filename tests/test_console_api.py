"""The console's JSON API on a real database (SQLite and PostgreSQL): the
queue, the first claim (also two agents at once), who may see and do what,
masking, and errors in Chinese."""
from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from bot.db.engine import unit_of_work
from bot.db.models import Customer
from bot.handoff.models import AuditAction, AuditEntry, CaseEventKind, HandoffReason
from bot.handoff.repositories import CaseRepository
from test_console_fixtures import (  # noqa: F401  (fixtures are found by name)
    MINUTE,
    PASSWORD,
    SUMMARY,
    T0,
    Console,
    calendar,
    console,
    customer_says,
    database_url,
    db,
    fast_seeding,
    login,
    make_app,
    open_case,
    post,
    postgres_database_url,
    stored,
)


def _event_kinds(db: str, number: str):
    with unit_of_work(db) as session:
        repo = CaseRepository(session)
        return [event.kind for event in repo.events(repo.by_number(number))]


def _audit_actions(db: str, number: str):
    with unit_of_work(db) as session:
        repo = CaseRepository(session)
        case = repo.by_number(number)
        return [
            entry.action
            for entry in session.execute(
                select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.id)
            ).scalars()
        ]


async def _claimed(console: Console, calendar, username: str = "agent1", conversation="alice"):
    number = open_case(console.db, calendar, conversation)
    client = await console.agent(username)
    response = await post(client, f"/api/cases/{number}/claim")
    assert response.status == 200, await response.text()
    return number, client


# --- reading ---------------------------------------------------------------------------


async def test_the_queue_lists_high_priority_first_then_the_longest_waiting(
    console: Console, calendar
):
    older = open_case(console.db, calendar, "a", at=T0)
    urgent = open_case(
        console.db, calendar, "b", at=T0 + 2 * MINUTE, reason=HandoffReason.HIGH_RISK,
        summary={**SUMMARY, "question": "我的卡丢了，卡号6222 0212 3456 7890，请立即冻结"},
    )
    newer = open_case(console.db, calendar, "c", at=T0 + 3 * MINUTE, reason=HandoffReason.COMPLAINT)
    client = await console.agent("agent2")

    response = await client.get("/api/queue")

    assert response.status == 200
    cases = (await response.json())["cases"]
    assert [case["number"] for case in cases] == [urgent, older, newer]
    assert cases[0] == {
        "number": urgent,
        "waiting_minutes": 28,
        "priority": {"value": "high", "label": "紧急"},
        "channel": "rest",
        "reason": {"value": "high_risk", "label": "高风险"},
        "summary": "我的卡丢了，卡号************7890，请立即冻结",
        "off_hours": False,
        "created_at": "2026-11-27T10:02:00+08:00",
        "sla": {"value": "breached", "label": "已超时"},
        "due": "2026-11-27T10:22:00+08:00",
    }
    assert [case["waiting_minutes"] for case in cases] == [28, 30, 27]
    assert cases[1]["summary"] == "我的信用卡被冻结了，怎么办？"


async def test_my_cases_show_their_sla_state_and_deadline(console: Console, calendar):
    number, client = await _claimed(console, calendar)
    open_case(console.db, calendar, "someone-else")

    cases = (await (await client.get("/api/cases/mine")).json())["cases"]

    assert [case["number"] for case in cases] == [number]
    mine = cases[0]
    assert mine["my_role"] == "owner"
    assert mine["owner"] == mine["handler"] == {"username": "agent1", "display_name": "李娜"}
    assert mine["stage"] == {"value": "received", "label": "受理"}
    assert mine["sla"] == {"value": "breached", "label": "已超时"}  # claimed, unanswered at 10:30
    assert mine["due"] == "2026-11-27T10:20:00+08:00"
    assert mine["warn_at"] == "2026-11-27T10:15:00+08:00"
    other = await console.agent("agent2")
    assert (await (await other.get("/api/cases/mine")).json()) == {"cases": []}


async def test_case_detail_masks_personal_numbers_and_shows_notes_to_agents(
    console: Console, calendar
):
    with unit_of_work(console.db) as session:
        customer = Customer(
            customer_no="C000001", name="张三丰", phone="13812345678",
            id_card_number="11010519491231002X", created_at=T0,
        )
        session.add(customer)
        session.flush()
        number = CaseRepository(session).open_case(
            "alice", "rest", "request_human",
            {**SUMMARY, "slots": {"phone": "13812345678", "id": "11010519491231002X"}},
            T0, calendar, customer=customer, callback_phone="13812345678",
        ).number
    customer_says(console.db, number, "我的手机号是13812345678，身份证11010519491231002X")
    client = await console.agent("agent1")
    await post(client, f"/api/cases/{number}/claim")
    note = await post(
        client, f"/api/cases/{number}/messages",
        {"text": "客户留的备用电话 139-8765-4321", "private": True},
    )
    assert note.status == 200

    response = await client.get(f"/api/cases/{number}")

    assert response.status == 200
    raw = await response.text()
    for secret in ("13812345678", "11010519491231002X", "13987654321", "8765-4321", "张三丰"):
        assert secret not in raw
    case = json.loads(raw)["case"]
    assert [(m["author"]["value"], m["text"], m["private"]) for m in case["messages"]] == [
        ("customer", "我的手机号是138****5678，身份证110***********002X", False),
        ("agent", "客户留的备用电话 139****4321", True),
    ]
    assert case["messages"][1]["agent"] == {"username": "agent1", "display_name": "李娜"}
    assert case["summary"]["slots"] == {"phone": "138****5678", "id": "110***********002X"}
    assert case["callback_phone"] == "138****5678"
    assert case["customer"] == {"customer_no": "C000001", "name": "张**"}
    assert [e["kind"]["value"] for e in case["events"]] == ["created", "claimed"]
    assert case["can"]["close"] and case["can"]["write"] and not case["can"]["claim"]
    assert _audit_actions(console.db, number)[-1] is AuditAction.VIEW_CASE


async def test_an_agent_cannot_read_a_colleagues_case_but_a_supervisor_can(
    console: Console, calendar
):
    number, _ = await _claimed(console, calendar, "agent1")
    wang = await console.agent("agent2")
    chen = await console.agent("supervisor")

    refused = await wang.get(f"/api/cases/{number}")
    allowed = await chen.get(f"/api/cases/{number}")

    assert refused.status == 403
    assert (await refused.json()) == {"error": "您无权查看该工单"}
    assert allowed.status == 200
    assert (await allowed.json())["case"]["can"]["reassign"] is True
    waiting = open_case(console.db, calendar, "bob")
    assert (await wang.get(f"/api/cases/{waiting}")).status == 200  # the shared queue
    missing = await wang.get("/api/cases/AJ209901010001")
    assert missing.status == 404 and (await missing.json()) == {"error": "未找到该工单"}


async def test_supervisors_list_all_cases(console: Console, calendar):
    number, agent = await _claimed(console, calendar)
    chen = await console.agent("supervisor")
    listed = (await (await chen.get("/api/cases?status=open")).json())["cases"]
    assert [case["number"] for case in listed] == [number]
    refused = await agent.get("/api/cases")
    assert refused.status == 403 and (await refused.json()) == {"error": "只有主管可以查看全部工单"}
    assert (await chen.get("/api/cases?status=bogus")).status == 422


async def test_canned_replies_and_colleagues(console: Console):
    client = await console.agent("agent1")
    replies = (await (await client.get("/api/canned-replies")).json())["replies"]
    assert replies[0]["title"] == "问候"
    assert replies[0]["text"] == "您好，我是客服李娜，很高兴为您服务。"
    agents = (await (await client.get("/api/agents")).json())["agents"]
    assert [a["username"] for a in agents] == ["agent1", "agent2", "supervisor"]
    assert "password_hash" not in json.dumps(agents)


# --- the first claim -----------------------------------------------------------------


async def test_a_claim_makes_the_agent_the_owner(console: Console, calendar):
    number = open_case(console.db, calendar)
    client = await console.agent("agent1")

    response = await post(client, f"/api/cases/{number}/claim")

    assert response.status == 200
    case = (await response.json())["case"]
    assert case["status"] == {"value": "open", "label": "处理中"}
    assert case["owner"] == {"username": "agent1", "display_name": "李娜"}
    assert stored(console.db, number, "status", "owner", "handler") == ("open", "agent1", "agent1")
    assert (await (await client.get("/api/queue")).json()) == {"cases": []}

    late = await post(await console.agent("agent2"), f"/api/cases/{number}/claim")
    assert late.status == 409
    assert (await late.json()) == {
        "error": "该会话已由李娜接手",
        "owner": {"username": "agent1", "display_name": "李娜"},
    }


async def test_two_agents_claiming_at_once_one_wins_and_the_other_learns_who(
    console: Console, calendar
):
    number = open_case(console.db, calendar)
    li, wang = await console.agent("agent1"), await console.agent("agent2")

    responses = await asyncio.gather(
        post(li, f"/api/cases/{number}/claim"), post(wang, f"/api/cases/{number}/claim")
    )

    assert sorted(response.status for response in responses) == [200, 409]
    winner_response = next(r for r in responses if r.status == 200)
    loser_response = next(r for r in responses if r.status == 409)
    winner = (await winner_response.json())["case"]["owner"]
    assert (await loser_response.json())["error"] == f"该会话已由{winner['display_name']}接手"
    assert stored(console.db, number, "owner") == (winner["username"],)
    assert _event_kinds(console.db, number).count(CaseEventKind.CLAIMED) == 1


# --- working on a case ------------------------------------------------------------------


async def test_messages_are_stored_and_not_pretended_delivered(console: Console, calendar):
    number, client = await _claimed(console, calendar)
    console.line.accepts = False  # Rasa refuses: the message is kept, not called delivered

    to_customer = await post(client, f"/api/cases/{number}/messages", {"text": "您好，请问有什么可以帮您？"})
    note = await post(client, f"/api/cases/{number}/messages", {"text": "疑似盗刷", "private": True})

    assert to_customer.status == note.status == 200
    body = await to_customer.json()
    assert body["delivered"] is False
    assert body["message"]["text"] == "您好，请问有什么可以帮您？"
    assert body["case"]["first_responded_at"] == "2026-11-27T10:30:00+08:00"
    assert console.line.texts("alice")[-1] == "【客服李娜】您好，请问有什么可以帮您？"
    assert not any("疑似盗刷" in text for text in console.line.texts("alice"))  # notes stay inside


async def test_message_input_is_validated_in_chinese(console: Console, calendar):
    number, client = await _claimed(console, calendar)
    cases = [
        ({"text": "   "}, 422, "请填写消息内容"),
        ({"text": "x" * 2001}, 422, "消息内容过长（最多2000字）"),
        ({"text": "好", "private": "yes"}, 422, "字段 private 应为 true 或 false"),
        ({"text": 5}, 422, "消息内容格式不正确"),
    ]
    for body, status, message in cases:
        response = await post(client, f"/api/cases/{number}/messages", body)
        assert (response.status, (await response.json())["error"]) == (status, message)
    other = await console.agent("agent2")
    refused = await post(other, f"/api/cases/{number}/messages", {"text": "你好"})
    assert refused.status == 403


async def test_bad_json_is_a_400_in_chinese(console: Console, calendar):
    number = open_case(console.db, calendar)
    client = await console.agent("agent1")
    headers = {"X-CSRF-Token": client.csrf, "Content-Type": "application/json"}

    broken = await client.post(f"/api/cases/{number}/claim", data="{not json", headers=headers)
    not_an_object = await client.post(f"/api/cases/{number}/claim", data="[1, 2]", headers=headers)

    assert broken.status == 400
    assert (await broken.json()) == {"error": "请求内容不是有效的 JSON"}
    assert not_an_object.status == 400
    assert (await not_an_object.json()) == {"error": "请求内容必须是 JSON 对象"}
    assert "Traceback" not in await broken.text()
    assert stored(console.db, number, "status") == ("waiting",)


async def test_stages_only_go_forward(console: Console, calendar):
    number, client = await _claimed(console, calendar)
    forward = await post(client, f"/api/cases/{number}/stage", {"stage": "handling"})
    back = await post(client, f"/api/cases/{number}/stage", {"stage": "investigating"})
    unknown = await post(client, f"/api/cases/{number}/stage", {"stage": "done"})

    assert forward.status == 200
    assert (await forward.json())["case"]["stage"]["label"] == "处理"
    assert back.status == 409
    assert (await back.json())["error"] == "处理阶段只能向前推进（当前：处理，不能改为：调查）"
    assert unknown.status == 422 and (await unknown.json())["error"] == "未知的处理阶段"


async def test_transfer_and_consult_hand_the_work_on_but_not_the_ownership(
    console: Console, calendar
):
    number, li = await _claimed(console, calendar)
    wang = await console.agent("agent2")
    assert (await wang.get(f"/api/cases/{number}")).status == 403

    without_note = await post(li, f"/api/cases/{number}/transfer", {"to": "agent2"})
    unknown = await post(li, f"/api/cases/{number}/transfer", {"to": "ghost", "note": "请协助"})
    transferred = await post(li, f"/api/cases/{number}/transfer", {"to": "agent2", "note": "请协助核实"})
    again = await post(li, f"/api/cases/{number}/transfer", {"to": "agent2", "note": "再次"})
    not_owner = await post(wang, f"/api/cases/{number}/transfer", {"to": "agent2", "note": "x"})

    assert (without_note.status, (await without_note.json())["error"]) == (422, "请填写给同事的说明")
    assert (unknown.status, (await unknown.json())["error"]) == (422, "未找到该客服，或其账号已停用")
    assert transferred.status == 200
    assert (again.status, (await again.json())["error"]) == (422, "该同事已在处理此工单")
    assert (not_owner.status, (await not_owner.json())["error"]) == (403, "只有首问责任人可以转交工单")
    assert stored(console.db, number, "owner", "handler") == ("agent1", "agent2")
    assert (await wang.get(f"/api/cases/{number}")).status == 200
    assert (await post(wang, f"/api/cases/{number}/messages", {"text": "我来核实"})).status == 200

    self_consult = await post(li, f"/api/cases/{number}/consult", {"to": "agent1", "note": "x"})
    assert (await self_consult.json())["error"] == "不能向自己发起协同咨询"
    consulted = await post(li, f"/api/cases/{number}/consult", {"to": "supervisor", "note": "请指导"})
    assert consulted.status == 200
    assert stored(console.db, number, "owner", "handler") == ("agent1", "supervisor")


async def test_reassigning_needs_a_supervisor_and_a_reason(console: Console, calendar):
    number, li = await _claimed(console, calendar)
    chen = await console.agent("supervisor")

    by_agent = await post(li, f"/api/cases/{number}/reassign", {"to": "agent2", "reason": "调班"})
    no_reason = await post(chen, f"/api/cases/{number}/reassign", {"to": "agent2"})
    blank_reason = await post(chen, f"/api/cases/{number}/reassign", {"to": "agent2", "reason": " "})
    same_owner = await post(chen, f"/api/cases/{number}/reassign", {"to": "agent1", "reason": "x"})

    assert (by_agent.status, (await by_agent.json())["error"]) == (403, "只有主管可以改派工单")
    assert (no_reason.status, (await no_reason.json())["error"]) == (422, "请填写改派原因")
    assert blank_reason.status == 422
    assert (await same_owner.json())["error"] == "该客服已是此工单的责任人"
    assert stored(console.db, number, "owner") == ("agent1",)

    done = await post(chen, f"/api/cases/{number}/reassign", {"to": "agent2", "reason": "李娜病假"})
    assert done.status == 200
    assert stored(console.db, number, "owner", "handler") == ("agent2", "agent2")
    events = (await done.json())["case"]["events"]
    assert events[-1]["kind"]["value"] == "reassigned" and events[-1]["note"] == "李娜病假"


async def test_closing_needs_a_note_and_the_owner(console: Console, calendar):
    number, li = await _claimed(console, calendar)
    chen = await console.agent("supervisor")

    without_note = await post(li, f"/api/cases/{number}/close", {})
    by_supervisor = await post(chen, f"/api/cases/{number}/close", {"resolution_note": "已解决"})
    assert (without_note.status, (await without_note.json())["error"]) == (422, "请填写办结说明")
    assert (by_supervisor.status, (await by_supervisor.json())["error"]) == (
        403, "只有首问责任人可以办结工单"
    )
    assert stored(console.db, number, "status") == ("open",)

    closed = await post(li, f"/api/cases/{number}/close", {"resolution_note": "已为客户解冻，电话13812345678"})
    assert closed.status == 200
    case = (await closed.json())["case"]
    assert case["status"]["value"] == "closed"
    assert case["resolution_note"] == "已为客户解冻，电话138****5678"
    assert not any(case["can"].values())
    again = await post(li, f"/api/cases/{number}/close", {"resolution_note": "再次"})
    assert (again.status, (await again.json())["error"]) == (409, "工单当前状态为「已办结」，不能执行此操作")


async def test_return_to_bot(console: Console, calendar):
    number, li = await _claimed(console, calendar)
    waiting = open_case(console.db, calendar, "bob")
    wang = await console.agent("agent2")

    refused = await post(wang, f"/api/cases/{waiting}/return-to-bot")
    returned = await post(li, f"/api/cases/{number}/return-to-bot", {"note": "客户问题已由机器人解答"})

    assert (refused.status, (await refused.json())["error"]) == (
        403, "排队中的工单请先接入，或由主管转回机器人"
    )
    assert returned.status == 200
    assert stored(console.db, number, "status") == ("returned_to_bot",)
    chen = await console.agent("supervisor")
    assert (await post(chen, f"/api/cases/{waiting}/return-to-bot")).status == 200


async def test_an_unexpected_failure_is_a_500_that_tells_nothing(db, calendar, aiohttp_client):
    class BrokenCalendar:
        def localize(self, moment):
            raise RuntimeError("secret internals: /etc/passwd")

        def opening_hours(self, day):
            raise RuntimeError("secret internals: /etc/passwd")

    client = await aiohttp_client(make_app(db, BrokenCalendar()))
    assert (await login(client, "agent1", PASSWORD)).status == 200
    open_case(db, calendar)

    response = await client.get("/api/queue")

    assert response.status == 500
    assert (await response.json()) == {"error": "服务器内部错误，请稍后重试"}
    assert "secret" not in await response.text()
