"""The console and the customer: what reaches the customer when agents act,
customers' messages relayed from Rasa (``/internal/customer-messages``), and
the SLA watcher. The console runs in process on SQLite and PostgreSQL; its
line to customers records what it would append to the Rasa conversation
(the real Rasa server is in test_handoff_e2e)."""
from __future__ import annotations


from bot.console import watcher
from bot.handoff import customer_texts
from bot.handoff.models import CaseEventKind
from test_console_fixtures import (  # noqa: F401  (fixtures are found by name)
    INTERNAL_TOKEN,
    MINUTE,
    NOW,
    T0,
    Console,
    calendar,
    console,
    database_url,
    db,
    fast_seeding,
    open_case,
    post,
    postgres_database_url,
    stored,
)

RELAY = "/internal/customer-messages"


async def relay(console: Console, conversation: str, text: str, token: str = INTERNAL_TOKEN):
    client = await console.client()
    return await client.post(
        RELAY,
        json={"conversation_id": conversation, "text": text},
        headers={"Authorization": f"Bearer {token}"},
    )


def events_sent(console: Console, conversation: str):
    return [event for sent_to, events in console.line.sent if sent_to == conversation for event in events]


# --- agents' actions reach the customer ------------------------------------------------------


async def test_a_claim_tells_the_customer_who_owns_the_case(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    li = await console.agent("agent1")
    response = await post(li, f"/api/cases/{number}/claim")
    assert (await response.json())["delivered"] is True
    assert console.line.texts("alice") == [customer_texts.agent_joined("李娜", number)]


async def test_closing_hands_back_to_the_bot_with_the_satisfaction_question(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    li = await console.agent("agent1")
    await post(li, f"/api/cases/{number}/claim")
    await post(li, f"/api/cases/{number}/close", {"resolution_note": "已解决"})
    resume, question, listen = events_sent(console, "alice")[-3:]
    assert resume == {"event": "resume"} and listen == {"event": "action", "name": "action_listen"}
    assert question["text"] == customer_texts.CLOSED
    payloads = [button["payload"] for button in question["data"]["buttons"]]
    assert payloads[0] == '/rate_service{"satisfaction_score":"5"}' and len(payloads) == 5


async def test_a_refused_close_tells_the_customer_nothing(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    li = await console.agent("agent1")
    await post(li, f"/api/cases/{number}/claim")
    sent_before = len(console.line.sent)
    assert (await post(li, f"/api/cases/{number}/close", {})).status == 422
    assert len(console.line.sent) == sent_before


async def test_returning_to_the_bot_resumes_the_conversation(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    li = await console.agent("agent1")
    await post(li, f"/api/cases/{number}/claim")
    await post(li, f"/api/cases/{number}/return-to-bot")
    assert events_sent(console, "alice")[-3:] == [
        {"event": "resume"}, {"event": "bot", "text": customer_texts.HANDED_BACK},
        {"event": "action", "name": "action_listen"},
    ]


# --- customers' messages relayed by Rasa -------------------------------------------------------


async def test_the_relay_needs_the_shared_token(console: Console, calendar):
    open_case(console.db, calendar, "alice")
    assert (await relay(console, "alice", "你好", token="wrong")).status == 403
    client = await console.client()
    assert (await client.post(RELAY, json={"conversation_id": "alice", "text": "你好"})).status == 403


async def test_a_conversation_without_a_case_is_ignored(console: Console):
    assert (await relay(console, "nobody", "你好")).status == 204
    assert console.line.sent == []


async def test_customer_lines_join_the_case_transcript(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    response = await relay(console, "alice", "我的卡被盗刷了")
    assert response.status == 200
    li = await console.agent("agent1")
    detail = await (await li.get(f"/api/cases/{number}")).json()
    assert [m["text"] for m in detail["case"]["messages"]] == ["我的卡被盗刷了"]
    assert console.line.sent == []  # nothing said back


async def test_a_waiting_customer_withdraws_with_cancel(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    response = await relay(console, "alice", "返回機器人！")
    assert (await response.json())["withdrawn"] is True
    assert stored(console.db, number, "status") == ("returned_to_bot",)
    assert events_sent(console, "alice") == [
        {"event": "resume"}, {"event": "bot", "text": customer_texts.WITHDRAWN},
        {"event": "action", "name": "action_listen"},
    ]


async def test_cancel_in_an_open_case_is_a_message_for_the_agent(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    li = await console.agent("agent1")
    await post(li, f"/api/cases/{number}/claim")
    response = await relay(console, "alice", "取消")
    assert (await response.json())["withdrawn"] is False
    assert stored(console.db, number, "status") == ("open",)


async def test_a_waiting_customer_leaves_a_callback_number(console: Console, calendar):
    number = open_case(console.db, calendar, "alice")
    await relay(console, "alice", "请回电 138-1234-5678")
    await relay(console, "alice", "或者打 13900001111")
    assert stored(console.db, number, "callback_phone") == ("13812345678",)
    assert console.line.texts("alice") == [customer_texts.callback_noted("13812345678")]
    assert "138****5678" in console.line.texts("alice")[0]


# --- the SLA watcher ----------------------------------------------------------------------------


async def test_an_unanswered_wait_is_escalated_and_the_customer_told_once(console: Console, calendar):
    late = open_case(console.db, calendar, "alice", at=T0)  # due 10:20, now 10:30
    fresh = open_case(console.db, calendar, "bob", at=NOW - 2 * MINUTE)

    found = await watcher.tick(console.app)
    again = await watcher.tick(console.app)

    assert found.escalated == [late] and again.escalated == []
    assert console.line.texts("alice") == [customer_texts.QUEUE_TIMED_OUT]
    assert console.line.texts("bob") == []
    assert stored(console.db, late, "escalated_at")[0] is not None
    assert stored(console.db, fresh, "escalated_at") == (None,)


async def test_a_late_open_case_is_escalated_without_bothering_the_customer(
    console: Console, calendar
):
    number = open_case(console.db, calendar, "alice", at=T0)
    li = await console.agent("agent1")
    await post(li, f"/api/cases/{number}/claim")  # claimed, never answered
    sent_before = len(console.line.sent)
    found = await watcher.tick(console.app)
    assert found.escalated == [number] and found.to_tell == []
    assert len(console.line.sent) == sent_before


async def test_a_case_near_its_deadline_is_warned_once(console: Console, calendar):
    near = open_case(console.db, calendar, "alice", at=NOW - 17 * MINUTE)  # due in 3 minutes
    found = await watcher.tick(console.app)
    assert found.warned == [near] and found.escalated == []
    assert (await watcher.tick(console.app)).warned == []
    li = await console.agent("agent1")
    detail = await (await li.get(f"/api/cases/{near}")).json()
    kinds = [event["kind"]["value"] for event in detail["case"]["events"]]
    assert kinds == [CaseEventKind.CREATED.value, CaseEventKind.WARNED.value]
    assert console.line.sent == []


async def test_supervisors_see_the_sla_breaches(console: Console, calendar):
    late = open_case(console.db, calendar, "alice", at=T0)  # due 10:20, now 10:30
    open_case(console.db, calendar, "bob", at=NOW - 2 * MINUTE)
    chen, li = await console.agent("supervisor"), await console.agent("agent1")
    breaches = await (await chen.get("/api/cases/breaches")).json()
    assert [case["number"] for case in breaches["cases"]] == [late]
    assert breaches["cases"][0]["due"] == "2026-11-27T10:20:00+08:00"
    refused = await li.get("/api/cases/breaches")
    assert (refused.status, (await refused.json())["error"]) == (403, "只有主管可以查看超时工单")
