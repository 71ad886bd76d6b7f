"""The JSON API of the console (every route needs a logged-in agent; every
POST the session's CSRF token: see ``auth.auth_middleware``).

Each request is one unit of work; the repositories decide who may see and
do what, and refuse with domain exceptions that ``errors`` turns into
403/409/422. After a change is committed, the hub tells the connected
agents (``queue_changed`` / ``case_changed``).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console import views
from bot.console.auth import identity_of
from bot.console.context import CUSTOMER_LINE, HUB, PRESENCE, ConsoleConfig, config, run_as_agent
from bot.console.errors import ApiError, CaseNotFound, json_response
from bot.console.hub import CASE_CHANGED, QUEUE_CHANGED
from bot.handoff import customer_texts
from bot.handoff.models import Agent, Case, CaseStage, CaseStatus, MessageAuthor
from bot.handoff.repositories import (
    AgentRepository,
    CannedReplyRepository,
    CaseFilter,
    CaseRepository,
    NotAllowed,
    is_owner,
)

MESSAGE_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 1000
CASE_NUMBER = r"{number:[A-Za-z]{2}[0-9]{12}}"


# --- request bodies ---------------------------------------------------------------------


async def read_json(request: web.Request) -> Dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``; anything else is 400."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "请求内容不是有效的 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "请求内容必须是 JSON 对象")
    return data


def text_field(
    body: Mapping[str, Any], name: str, what: str, *, required: bool, max_length: int
) -> str:
    value = body.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiError(422, f"{what}格式不正确")
    if required and not value.strip():
        raise ApiError(422, f"请填写{what}")
    if len(value) > max_length:
        raise ApiError(422, f"{what}过长（最多{max_length}字）")
    return value


def bool_field(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(422, f"字段 {name} 应为 true 或 false")
    return value


def _colleague(session: Session, username: str) -> Agent:
    agent = AgentRepository(session).by_username(username)
    if agent is None or not agent.active:
        raise ApiError(422, "未找到该客服，或其账号已停用")
    return agent


def _agents(session: Session) -> Dict[int, Agent]:
    """Every agent by id (a team, not a crowd): names without lazy loads."""
    return {agent.id: agent for agent in session.execute(select(Agent)).scalars()}


def _detail(session: Session, case: Case, agent: Agent, cfg: ConsoleConfig) -> Dict[str, Any]:
    repo = CaseRepository(session)
    return views.case_detail(
        case,
        agent,
        repo.messages(case, include_private=True),
        repo.events(case),
        _agents(session),
        cfg.now(),
        cfg.calendar,
        cfg.timezone,
    )


# --- reading ------------------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    agent = await run_as_agent(request, lambda session, agent: views.agent_me(agent))
    return json_response({**agent, "csrf_token": identity_of(request).csrf})


async def queue(request: web.Request) -> web.Response:
    cfg = config(request)

    def work(session: Session, agent: Agent):
        now = cfg.now()
        tracked = CaseRepository(session).queue(now, cfg.calendar)
        return [views.queue_item(entry, now, cfg.timezone) for entry in tracked]

    return json_response({"cases": await run_as_agent(request, work)})


async def my_cases(request: web.Request) -> web.Response:
    cfg = config(request)

    def work(session: Session, agent: Agent):
        tracked = CaseRepository(session).open_cases_of(agent, cfg.now(), cfg.calendar)
        agents = _agents(session)
        return [views.desk_item(entry, agent, agents, cfg.timezone) for entry in tracked]

    return json_response({"cases": await run_as_agent(request, work)})


async def all_cases(request: web.Request) -> web.Response:
    """Supervisors: the newest cases, optionally of one status (``?status=open``)."""
    cfg = config(request)
    status: Optional[CaseStatus] = None
    if request.query.get("status"):
        try:
            status = CaseStatus(request.query["status"])
        except ValueError:
            raise ApiError(422, "未知的工单状态") from None

    def work(session: Session, agent: Agent):
        cases = CaseRepository(session).all_cases(agent, CaseFilter(status=status, limit=100))
        agents = _agents(session)
        return [views.case_brief(case, agents, cfg.timezone) for case in cases]

    return json_response({"cases": await run_as_agent(request, work)})


async def sla_breaches(request: web.Request) -> web.Response:
    """Supervisors: cases still unanswered after their first-response deadline."""
    cfg = config(request)

    def work(session: Session, agent: Agent):
        if not (agent.active and agent.is_supervisor):
            raise NotAllowed(agent, "see SLA breaches")
        agents = _agents(session)
        return [
            views.case_brief(case, agents, cfg.timezone)
            for case in CaseRepository(session).breaches(cfg.now())
        ]

    return json_response({"cases": await run_as_agent(request, work)})


async def case_detail(request: web.Request) -> web.Response:
    """The case, its transcript (notes included) and history; the look is audited."""
    cfg = config(request)
    number = request.match_info["number"]

    def work(session: Session, agent: Agent):
        case = CaseRepository(session).view(agent, number, at=cfg.now())
        if case is None:
            raise CaseNotFound()
        return _detail(session, case, agent, cfg)

    return json_response({"case": await run_as_agent(request, work)})


async def colleagues(request: web.Request) -> web.Response:
    """Active agents, for choosing whom to transfer, consult or reassign to;
    ``online``: the agent has the console open now (on any console process)."""

    def work(session: Session, agent: Agent):
        return [(a.id, views.agent_me(a)) for a in AgentRepository(session).all(active_only=True)]

    agents = await run_as_agent(request, work)
    online = await request.app[PRESENCE].online()
    return json_response({"agents": [{**a, "online": i in online} for i, a in agents]})


async def canned_replies(request: web.Request) -> web.Response:
    def work(session: Session, agent: Agent):
        return [
            {"id": reply.id, "title": reply.title, "text": reply.for_agent(agent)}
            for reply in CannedReplyRepository(session).active()
        ]

    return json_response({"replies": await run_as_agent(request, work)})


# --- changing a case ------------------------------------------------------------------

Change = Callable[[Session, CaseRepository, Case, Agent], Any]


async def _act(
    request: web.Request, change: Change, *, queue_changed: bool = False
) -> Tuple[Dict[str, Any], Any]:
    """Load the case, apply ``change`` and return the case as it now is (and
    what ``change`` returned); then tell the connected agents."""
    cfg = config(request)
    number = request.match_info["number"]

    def work(session: Session, agent: Agent):
        repo = CaseRepository(session)
        case = repo.by_number(number)
        if case is None:
            raise CaseNotFound()
        result = change(session, repo, case, agent)
        return _detail(session, case, agent, cfg), result

    detail, result = await run_as_agent(request, work)
    hub = request.app[HUB]
    if queue_changed:
        await hub.publish(QUEUE_CHANGED)
    await hub.publish(CASE_CHANGED, number=detail["number"])
    return detail, result


async def _tell_customer(request: web.Request, conversation_id: str, text: str) -> bool:
    return await request.app[CUSTOMER_LINE].say(conversation_id, text)


def _conversation(case: Case, agent: Agent) -> Tuple[str, str]:
    """What a change needs to reach the customer afterwards: conversation and agent name."""
    return case.conversation_id, agent.display_name


async def claim(request: web.Request) -> web.Response:
    """Take a waiting case: 200 and the case, or 409 naming who was first.
    The customer is told who now owns their case."""
    await read_json(request)
    at = config(request).now()

    def change(session, repo, case, agent):
        repo.claim(case, agent, at)
        return _conversation(case, agent)

    detail, (conversation_id, name) = await _act(request, change, queue_changed=True)
    told = await _tell_customer(
        request, conversation_id, customer_texts.agent_joined(name, detail["number"])
    )
    return json_response({"case": detail, "delivered": told})


async def post_message(request: web.Request) -> web.Response:
    """A message to the customer, or a private note (``private: true``) for colleagues.

    Stored first; a message to the customer then goes out through Rasa on the
    customer's channel (``delivered`` says whether Rasa accepted it)."""
    body = await read_json(request)
    text = text_field(body, "text", "消息内容", required=True, max_length=MESSAGE_MAX_LENGTH)
    private = bool_field(body, "private")
    at = config(request).now()

    def change(session, repo, case, agent):
        message = repo.add_message(case, MessageAuthor.AGENT, text, agent, private, at=at)
        view = views.message_view(message, _agents(session), config(request).timezone)
        return view, _conversation(case, agent)

    detail, (message, (conversation_id, name)) = await _act(request, change)
    delivered = False
    if not private:
        delivered = await _tell_customer(
            request, conversation_id, customer_texts.agent_says(name, text)
        )
    return json_response({"case": detail, "message": message, "delivered": delivered})


async def advance_stage(request: web.Request) -> web.Response:
    body = await read_json(request)
    try:
        stage = CaseStage(body.get("stage"))
    except ValueError:
        raise ApiError(422, "未知的处理阶段") from None
    at = config(request).now()
    detail, _ = await _act(
        request, lambda session, repo, case, agent: repo.advance_stage(case, agent, stage, at)
    )
    return json_response({"case": detail})


def _hand_over(kind: str) -> Callable[[web.Request], Any]:
    """POST /transfer and /consult (to, note): the owner stays accountable."""

    async def handler(request: web.Request) -> web.Response:
        body = await read_json(request)
        to = text_field(body, "to", "接手同事", required=True, max_length=40)
        note = text_field(body, "note", "给同事的说明", required=True, max_length=NOTE_MAX_LENGTH)
        at = config(request).now()

        def change(session, repo, case, agent):
            colleague = _colleague(session, to)
            if is_owner(agent, case) and case.status is CaseStatus.OPEN:
                if kind == "consult" and colleague.id == agent.id:
                    raise ApiError(422, "不能向自己发起协同咨询")
                if colleague.id == case.handler_id:
                    raise ApiError(422, "该同事已在处理此工单")
            operation = repo.consult if kind == "consult" else repo.transfer
            return operation(case, agent, colleague, note, at)

        detail, _ = await _act(request, change)
        return json_response({"case": detail})

    handler.__name__ = kind
    return handler


async def close(request: web.Request) -> web.Response:
    body = await read_json(request)
    note = text_field(
        body, "resolution_note", "办结说明", required=True, max_length=NOTE_MAX_LENGTH
    )
    at = config(request).now()

    def change(session, repo, case, agent):
        repo.close(case, agent, note, at)
        return case.conversation_id

    detail, conversation_id = await _act(request, change)
    # The bot has the conversation again and asks how satisfied the customer was.
    told = await request.app[CUSTOMER_LINE].hand_back(
        conversation_id, customer_texts.CLOSED, customer_texts.satisfaction_buttons()
    )
    return json_response({"case": detail, "delivered": told})


async def reassign(request: web.Request) -> web.Response:
    """Supervisors only, with a reason: the one way the owner changes."""
    body = await read_json(request)
    at = config(request).now()

    def change(session, repo, case, agent):
        if not (agent.active and agent.is_supervisor):
            raise NotAllowed(agent, "reassign", case)
        to = text_field(body, "to", "新的责任人", required=True, max_length=40)
        reason = text_field(body, "reason", "改派原因", required=True, max_length=NOTE_MAX_LENGTH)
        new_owner = _colleague(session, to)
        if case.owner_id == new_owner.id:
            raise ApiError(422, "该客服已是此工单的责任人")
        return repo.reassign(case, agent, new_owner, reason, at)

    detail, _ = await _act(request, change)
    return json_response({"case": detail})


async def return_to_bot(request: web.Request) -> web.Response:
    body = await read_json(request)
    note = text_field(body, "note", "说明", required=False, max_length=NOTE_MAX_LENGTH)
    at = config(request).now()

    def change(session, repo, case, agent):
        repo.return_to_bot(case, agent, at, note.strip())
        return case.conversation_id

    # queue_changed: a waiting case (a supervisor's decision) leaves the queue.
    detail, conversation_id = await _act(request, change, queue_changed=True)
    told = await request.app[CUSTOMER_LINE].hand_back(conversation_id, customer_texts.HANDED_BACK)
    return json_response({"case": detail, "delivered": told})


def add_routes(app: web.Application) -> None:
    case = f"/api/cases/{CASE_NUMBER}"
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/queue", queue)
    app.router.add_get("/api/cases/mine", my_cases)
    app.router.add_get("/api/cases", all_cases)
    app.router.add_get("/api/cases/breaches", sla_breaches)
    app.router.add_get(case, case_detail)
    app.router.add_post(f"{case}/claim", claim)
    app.router.add_post(f"{case}/messages", post_message)
    app.router.add_post(f"{case}/stage", advance_stage)
    app.router.add_post(f"{case}/transfer", _hand_over("transfer"))
    app.router.add_post(f"{case}/consult", _hand_over("consult"))
    app.router.add_post(f"{case}/close", close)
    app.router.add_post(f"{case}/reassign", reassign)
    app.router.add_post(f"{case}/return-to-bot", return_to_bot)
    app.router.add_get("/api/agents", colleagues)
    app.router.add_get("/api/canned-replies", canned_replies)
