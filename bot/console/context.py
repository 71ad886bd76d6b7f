"""The console's configuration and the helpers every handler uses.

Application state lives under typed ``web.AppKey``\\ s. Database work runs in
a worker thread (SQLAlchemy is synchronous, and Argon2 takes a tenth of a
second): the event loop stays free for the websockets meanwhile.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Callable, FrozenSet, Optional, TypeVar

from aiohttp import web
from sqlalchemy.orm import Session

from bot.booking.calendar import ServiceCalendar
from bot.console.security import LoginRateLimiter, RevokedSessions
from bot.db.engine import unit_of_work
from bot.handoff.models import Agent

if TYPE_CHECKING:  # pragma: no cover  (bot.console.hub imports this module)
    from bot.console.delivery import CustomerLine
    from bot.console.hub import Hub
    from bot.console.presence import Presence

T = TypeVar("T")


@dataclass(frozen=True)
class ConsoleConfig:
    database_url: str
    calendar: ServiceCalendar
    timezone: tzinfo
    clock: Callable[[], datetime]
    # Origins (scheme://host[:port]) allowed to open the websocket besides the console's own.
    allowed_origins: FrozenSet[str] = field(default_factory=frozenset)
    session_max_age: int = 8 * 60 * 60
    # The shared secret of Rasa's handoff relay (bot.console.inbound); None: refused.
    internal_token: Optional[str] = None

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("the console's clock must return aware datetimes")
        return moment


CONFIG = web.AppKey("console_config", ConsoleConfig)
HUB: "web.AppKey[Hub]" = web.AppKey("console_hub")
CUSTOMER_LINE: "web.AppKey[CustomerLine]" = web.AppKey("console_customer_line")
LOGIN_LIMITER = web.AppKey("console_login_limiter", LoginRateLimiter)
REVOKED_SESSIONS = web.AppKey("console_revoked_sessions", RevokedSessions)
PRESENCE: "web.AppKey[Presence]" = web.AppKey("console_presence")


def config(request: web.Request) -> ConsoleConfig:
    return request.app[CONFIG]


async def run_db(request: web.Request, work: Callable[[Session], T]) -> T:
    """``work(session)`` in one unit of work, in a worker thread: committed
    when it returns, rolled back when it raises (the exception is re-raised
    here, for the error middleware). ``work`` must turn what it read into
    plain data before returning: nothing is loaded after the session ends."""
    url = config(request).database_url

    def run() -> T:
        with unit_of_work(url) as session:
            return work(session)

    return await asyncio.to_thread(run)


async def run_as_agent(request: web.Request, work: Callable[[Session, Agent], T]) -> T:
    """Like :func:`run_db`, for the logged-in agent (loaded in the same unit
    of work). An agent deactivated since logging in is logged out: 401."""
    from bot.console.auth import identity_of  # no import cycle at module load
    from bot.console.errors import NotLoggedIn

    agent_id = identity_of(request).agent_id

    def work_as_agent(session: Session) -> T:
        agent: Optional[Agent] = session.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise NotLoggedIn()
        return work(session, agent)

    return await run_db(request, work_as_agent)
