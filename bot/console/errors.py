"""Every failure the client sees, in one place: a status and a Chinese message.

Domain exceptions of the repositories become 403/404/409/422; invalid input
found by the API becomes :class:`ApiError`; anything else is logged with its
stack trace here and answered with a bare 500. No exception text, SQL or
stack trace ever reaches the client.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional, Tuple

from aiohttp import web
from aiohttp_session import get_session

from bot.db.repositories import ConcurrentChange, DomainError
from bot.handoff.repositories import (
    AgentNotActive,
    CaseAlreadyClaimed,
    CaseNotClosed,
    NotAllowed,
    SatisfactionAlreadyRecorded,
    StageNotForward,
    WrongCaseStatus,
)

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "服务器内部错误，请稍后重试"
INVALID_INPUT = "提交的内容不符合要求"
HTTP_MESSAGES = {
    400: "请求格式错误",
    401: "请先登录",
    403: "禁止访问",
    404: "未找到",
    405: "不支持的请求方法",
    413: "请求内容过大",
    415: "不支持的内容类型",
}

# NotAllowed.action as the repositories word it -> what the agent is told.
_NOT_ALLOWED = [
    ("view", "您无权查看该工单"),
    ("write", "您不是该工单的责任人或处理人，不能在此工单中留言"),
    ("close", "只有首问责任人可以办结工单"),
    ("change the stage", "只有责任人或当前处理人可以推进阶段"),
    ("reassign", "只有主管可以改派工单"),
    ("consult", "只有首问责任人可以发起协同咨询"),
    ("transfer", "只有首问责任人可以转交工单"),
    ("return an unclaimed case", "排队中的工单请先接入，或由主管转回机器人"),
    ("return to the bot", "只有首问责任人可以将工单转回机器人"),
    ("list all cases", "只有主管可以查看全部工单"),
    ("see SLA breaches", "只有主管可以查看超时工单"),
]


class ApiError(Exception):
    """A refusal the API decides itself, with what the agent is told."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


class NotLoggedIn(ApiError):
    def __init__(self) -> None:
        super().__init__(401, "请先登录")


class CaseNotFound(ApiError):
    def __init__(self) -> None:
        super().__init__(404, "未找到该工单")


class CsrfFailed(ApiError):
    def __init__(self) -> None:
        super().__init__(403, "安全校验失败，请刷新页面后重试")


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False), **kwargs
    )


def error_response(
    status: int, message: str, extra: Optional[Dict[str, Any]] = None, **kwargs: Any
) -> web.Response:
    return json_response({"error": message, **(extra or {})}, status=status, **kwargs)


def describe_domain_error(error: DomainError) -> Tuple[int, str, Dict[str, Any]]:
    """The status, Chinese message and extra fields for a repository's refusal."""
    if isinstance(error, CaseAlreadyClaimed):
        owner = {"username": error.owner_username, "display_name": error.owner_display_name}
        return 409, f"该会话已由{error.owner_display_name}接手", {"owner": owner}
    if isinstance(error, NotAllowed):
        for prefix, message in _NOT_ALLOWED:
            if error.action.startswith(prefix):
                return 403, message, {}
        return 403, "您无权执行此操作", {}
    if isinstance(error, WrongCaseStatus):
        return 409, f"工单当前状态为「{error.status.label}」，不能执行此操作", {}
    if isinstance(error, StageNotForward):
        return (
            409,
            f"处理阶段只能向前推进（当前：{error.from_stage.label}，"
            f"不能改为：{error.to_stage.label}）",
            {},
        )
    if isinstance(error, AgentNotActive):
        return 422, "该客服账号已停用", {}
    if isinstance(error, ConcurrentChange):
        return 409, "工单刚被他人修改，请刷新后重试", {}
    if isinstance(error, (CaseNotClosed, SatisfactionAlreadyRecorded)):
        return 409, "工单当前状态不允许此操作", {}
    return 409, "操作与工单当前状态冲突，请刷新后重试", {}


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Installed inside the session middleware, so a refusal still saves the
    session (e.g. the one logged out because the agent was deactivated)."""
    try:
        return await handler(request)
    except ApiError as error:
        if isinstance(error, NotLoggedIn):
            await _forget_session(request)
        return error_response(error.status, error.message, error.extra)
    except DomainError as error:
        status, message, extra = describe_domain_error(error)
        logger.info("refused %s %s: %s", request.method, request.path, error)
        return error_response(status, message, extra)
    except ValueError as error:
        # The repositories refuse invalid input with ValueError before
        # changing anything; the API validates the common cases itself with
        # precise messages, this is the net under it.
        logger.warning("invalid input on %s %s: %s", request.method, request.path, error)
        return error_response(422, INVALID_INPUT)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        message = HTTP_MESSAGES.get(error.status, error.reason)
        return error_response(error.status, message, headers=headers)
    except Exception:  # noqa: BLE001 - the last line: log it, tell nothing
        logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, INTERNAL_ERROR)


async def _forget_session(request: web.Request) -> None:
    try:
        session = await get_session(request)
    except RuntimeError:  # no session middleware (never in create_app)
        return
    if "agent_id" in session:
        session.invalidate()
