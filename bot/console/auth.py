"""Logging in and out, and the middleware that guards the API.

The session is an encrypted cookie (aiohttp-session ``EncryptedCookieStorage``,
Fernet): HttpOnly, SameSite=Strict, Secure unless the console runs on plain
http on localhost, with a max age of one shift. It holds the agent's id, a
session id (for logout, see ``RevokedSessions``) and the CSRF token; an
anonymous visitor's holds only the login form's CSRF token, issued by
``GET /login``. Logging in replaces the whole session (no fixation).

Failed logins get one message whatever went wrong ("用户名或密码错误") and
are limited per username+IP (``LoginRateLimiter``); ``AgentRepository.authenticate``
audits both outcomes and costs the same for unknown usernames.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from bot.console.context import (
    HUB,
    LOGIN_LIMITER,
    REVOKED_SESSIONS,
    config,
    run_as_agent,
    run_db,
)
from bot.console.errors import ApiError, CsrfFailed, NotLoggedIn, json_response
from bot.console.security import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, new_token, tokens_match
from bot.console.views import agent_me
from bot.handoff.models import AuditAction
from bot.handoff.repositories import AgentRepository, AuditRepository

AGENT_ID = "agent_id"
SESSION_ID = "sid"
CSRF = "csrf"
LOGIN_CSRF = "login_csrf"

LOGIN_FAILED = "用户名或密码错误"
_IDENTITY = "console_identity"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Identity:
    """Who the session says is logged in (the agent is re-read per request)."""

    agent_id: int
    sid: str
    csrf: str


async def current_identity(request: web.Request) -> Optional[Identity]:
    """The logged-in agent's identity from the session, or None."""
    session = await get_session(request)
    agent_id, sid, csrf = session.get(AGENT_ID), session.get(SESSION_ID), session.get(CSRF)
    if not isinstance(agent_id, int) or not isinstance(sid, str) or not isinstance(csrf, str):
        return None
    if await request.app[REVOKED_SESSIONS].is_revoked(sid):
        return None
    return Identity(agent_id, sid, csrf)


def identity_of(request: web.Request) -> Identity:
    """The identity the auth middleware put on the request (API routes only)."""
    identity = request.get(_IDENTITY)
    if identity is None:
        raise NotLoggedIn()
    return identity


async def require_identity(request: web.Request) -> Identity:
    identity = await current_identity(request)
    if identity is None:
        raise NotLoggedIn()
    request[_IDENTITY] = identity
    return identity


INTERNAL_PREFIX = "/internal/"


def _needs_login(path: str) -> bool:
    return path.startswith("/api/") or path == "/logout"


@web.middleware
async def auth_middleware(request: web.Request, handler) -> web.StreamResponse:
    """The API and /logout need a logged-in agent (401). Every request that
    may change something (any method but GET/HEAD/OPTIONS, on any path) needs
    the session's CSRF token in the ``X-CSRF-Token`` header or, for forms, a
    ``csrf_token`` field (403); /login takes the login form's token."""
    identity = await require_identity(request) if _needs_login(request.path) else None
    # Machine-to-machine routes carry a bearer token instead (bot.console.inbound).
    if request.method not in SAFE_METHODS and not request.path.startswith(INTERNAL_PREFIX):
        if identity is not None:
            expected = identity.csrf
        elif request.path == "/login":
            expected = (await get_session(request)).get(LOGIN_CSRF)
        else:
            expected = None
        if not tokens_match(expected, await _supplied_token(request)):
            raise CsrfFailed()
    return await handler(request)


async def _supplied_token(request: web.Request) -> Optional[str]:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in _FORM_TYPES:
        value = (await request.post()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


# --- handlers ------------------------------------------------------------------------


async def login_token(request: web.Request) -> web.Response:
    """GET /login: the CSRF token the login form must send back."""
    session = await get_session(request)
    token = session.get(LOGIN_CSRF)
    if not isinstance(token, str):
        token = session[LOGIN_CSRF] = new_token()
    return json_response({"csrf_token": token})


async def login(request: web.Request) -> web.Response:
    """POST /login (form: username, password, csrf_token)."""
    form = await request.post()
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(422, "请输入用户名和密码")
    if not username.strip() or not password:
        raise ApiError(422, "请输入用户名和密码")

    limiter = request.app[LOGIN_LIMITER]
    key = limiter.key(username, request.remote)
    wait = await limiter.attempt(key)  # counted as a failure until it succeeds
    at = config(request).now()
    if wait is not None:
        await run_db(request, lambda session: _audit_refused_login(session, username, at))
        minutes = max(1, math.ceil(wait / 60))
        raise ApiError(429, f"登录失败次数过多，请{minutes}分钟后再试")

    def authenticate(session) -> Optional[Dict[str, Any]]:
        agent = AgentRepository(session).authenticate(username, password, at=at)
        return {"id": agent.id, **agent_me(agent)} if agent is not None else None

    agent = await run_db(request, authenticate)
    if agent is None:
        raise ApiError(401, LOGIN_FAILED)
    await limiter.succeeded(key)

    session = await new_session(request)
    csrf = _start(session, agent["id"])
    del agent["id"]
    return json_response({"agent": agent, "csrf_token": csrf})


async def logout(request: web.Request) -> web.Response:
    """POST /logout: audited; the session id is revoked and its websockets closed."""
    identity = identity_of(request)
    at = config(request).now()
    await run_as_agent(
        request,
        lambda session, agent: AuditRepository(session).record(AuditAction.LOGOUT, at, agent=agent),
    )
    until = time.time() + config(request).session_max_age
    await request.app[REVOKED_SESSIONS].revoke(identity.sid, until)
    (await get_session(request)).invalidate()
    await request.app[HUB].close_session(identity.sid)
    return json_response({"ok": True})


def _start(session: Session, agent_id: int) -> str:
    csrf = new_token()
    session[AGENT_ID] = agent_id
    session[SESSION_ID] = new_token()
    session[CSRF] = csrf
    return csrf


def _audit_refused_login(session, username: str, at) -> None:
    """A login refused by the rate limit, before any password check."""
    agent = AgentRepository(session).by_username(username)
    AuditRepository(session).record(
        AuditAction.LOGIN_FAILED, at, agent=agent, detail=f"rate limited: {username[:40]}"
    )
