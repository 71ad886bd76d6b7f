"""The console's application factory.

    app = create_app()                      # settings from the environment
    web.run_app(app, host=..., port=...)    # or: python -m bot.console

Nothing happens at import time; ``create_app`` reads settings and builds
the application, the database is first touched by a request, and Redis
(``BOT_REDIS_URL``, the scale-out deployment) is connected on startup.

Middlewares, outermost first: the session (aiohttp-session, encrypted
cookie), errors (one place turns every failure into a status and a Chinese
message), auth (login for the API, CSRF for every change). Security headers
are added to every response by an ``on_response_prepare`` signal.
"""
from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Callable, Optional
from zoneinfo import ZoneInfo

import aiohttp_session
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

from bot.booking.calendar import ServiceCalendar, get_calendar
from bot import clock as bot_clock
from bot.console import api, auth, inbound
from bot.console.context import CONFIG, CUSTOMER_LINE, HUB, ConsoleConfig
from bot.console.delivery import CustomerLine
from bot.console.errors import error_middleware
from bot.console.hub import websocket
from bot.console.security import LoginRateLimiter, add_security_headers
from bot.console.shared_state import install_state
from bot.console.watcher import sla_watcher
from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "kefu_console"
# One shift: after it the agent logs in again.
SESSION_MAX_AGE = 8 * 60 * 60
# Messages are at most 2000 characters; nothing the console accepts is bigger.
CLIENT_MAX_SIZE = 64 * 1024


def create_app(
    settings: Optional[Settings] = None,
    *,
    database_url: Optional[str] = None,
    calendar: Optional[ServiceCalendar] = None,
    cookie_secure: Optional[bool] = None,
    clock: Callable = bot_clock.now,
    login_limiter: Optional[LoginRateLimiter] = None,
    session_max_age: int = SESSION_MAX_AGE,
    customer_line: Optional[CustomerLine] = None,
    sla_check_seconds: Optional[float] = None,
) -> web.Application:
    """The console as an aiohttp application.

    ``cookie_secure``: mark the session cookie ``Secure`` (browsers then send
    it over https only). By default it is on, except when the console listens
    on a loopback address, where plain http is the norm; set
    ``console_cookie_secure`` in the settings or pass it to decide.
    ``clock`` returns the aware current time (tests fix it).
    ``customer_line`` reaches customers through Rasa (default: the Rasa
    server of the settings). ``sla_check_seconds``: how often the SLA watcher
    runs (default from the settings; 0 turns it off, as unit tests do).

    With ``redis_url`` in the settings, the hub's events, presence, the login
    rate limit and logouts are shared with the other console processes
    through Redis (``shared_state``); unset, they stay in this process."""
    settings = settings or get_settings()
    app = web.Application(
        middlewares=[
            aiohttp_session.session_middleware(
                EncryptedCookieStorage(
                    _fernet(settings.console_secret_key),
                    cookie_name=_cookie_name(_secure(settings, cookie_secure)),
                    max_age=session_max_age,
                    path="/",
                    secure=_secure(settings, cookie_secure),
                    httponly=True,
                    samesite="Strict",
                )
            ),
            error_middleware,
            auth.auth_middleware,
        ],
        client_max_size=CLIENT_MAX_SIZE,
    )
    app[CONFIG] = ConsoleConfig(
        database_url=database_url or settings.database_url,
        calendar=calendar or get_calendar(),
        timezone=ZoneInfo(settings.timezone),
        clock=clock,
        allowed_origins=frozenset(settings.console_allowed_origins),
        session_max_age=session_max_age,
        internal_token=settings.internal_token,
    )
    # Before the SLA watcher's cleanup context: Redis is up while it publishes.
    install_state(app, settings, login_limiter=login_limiter)
    app[CUSTOMER_LINE] = customer_line or CustomerLine(settings.rasa_base_url, settings.rasa_token)

    app.router.add_get("/", index)
    app.router.add_get("/login", auth.login_token)
    app.router.add_post("/login", auth.login)
    app.router.add_post("/logout", auth.logout)
    app.router.add_get("/ws", websocket)
    api.add_routes(app)
    inbound.add_routes(app)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)

    app.on_response_prepare.append(add_security_headers)
    app.on_shutdown.append(_close_websockets)
    app.on_cleanup.append(_close_customer_line)
    interval = settings.sla_check_seconds if sla_check_seconds is None else sla_check_seconds
    if interval > 0:
        app.cleanup_ctx.append(sla_watcher(interval))
    return app


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _close_websockets(app: web.Application) -> None:
    await app[HUB].close_all()


async def _close_customer_line(app: web.Application) -> None:
    await app[CUSTOMER_LINE].close()


def _fernet(key: Optional[str]) -> Fernet:
    if not key:
        logger.warning(
            "BOT_CONSOLE_SECRET_KEY is not set: using a random session key, "
            "agents are logged out whenever the console restarts"
        )
        return Fernet(Fernet.generate_key())
    try:
        return Fernet(key.strip().encode())
    except (ValueError, TypeError):
        raise ValueError(
            "BOT_CONSOLE_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes), "
            "e.g. from: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from None


def _secure(settings: Settings, explicit: Optional[bool]) -> bool:
    if explicit is not None:
        return explicit
    configured = settings.console_cookie_secure
    if configured is not None:
        return bool(configured)
    return not _is_loopback(settings.console_host)


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _cookie_name(secure: bool) -> str:
    """``__Host-``: the browser keeps such a cookie only if Secure, on path /
    and without a domain, so no sibling subdomain can plant or widen it."""
    return f"__Host-{SESSION_COOKIE}" if secure else SESSION_COOKIE
