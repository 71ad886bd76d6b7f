"""The SLA watcher (限时办结制, handbook 2.2: dedicated service answers within
20 minutes of service time).

Every ``interval`` seconds it looks at the unanswered cases:

- inside the warning window (bot.handoff.sla): recorded once as ``warned``;
  agents' screens are told (``sla_warning``);
- past the first-response deadline: recorded once as ``escalated`` and
  flagged to supervisors (``sla_breach``). A customer still waiting in the
  queue is told, and offered a call back (a mobile number typed now is kept
  with the case, see ``inbound``) or the bot.

The repository's warn/escalate are conditional updates, so with several
console processes each case is warned, escalated and its customer told once.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator, List, Tuple

from aiohttp import web

from bot.console.context import CONFIG, CUSTOMER_LINE, HUB
from bot.console.hub import CASE_CHANGED, QUEUE_CHANGED
from bot.db.engine import unit_of_work
from bot.handoff import customer_texts
from bot.handoff.models import CaseStatus
from bot.handoff.repositories import CaseRepository

logger = logging.getLogger(__name__)

SLA_WARNING = "sla_warning"
SLA_BREACH = "sla_breach"


@dataclass
class Findings:
    warned: List[str] = field(default_factory=list)
    escalated: List[str] = field(default_factory=list)
    # (case number, conversation) of customers to tell their wait ran out.
    to_tell: List[Tuple[str, str]] = field(default_factory=list)


def check_once(app: web.Application) -> Findings:
    """One pass over the unanswered cases, in one unit of work (blocking)."""
    cfg = app[CONFIG]
    now = cfg.now()
    found = Findings()
    with unit_of_work(cfg.database_url) as session:
        repo = CaseRepository(session)
        for case in repo.needing_warning(now, cfg.calendar):
            if repo.warn(case, now):
                found.warned.append(case.number)
        for case in repo.breaches(now):
            if case.escalated_at is None and repo.escalate(case, now, note="首次响应超时，已提醒主管"):
                found.escalated.append(case.number)
                if case.status is CaseStatus.WAITING:
                    found.to_tell.append((case.number, case.conversation_id))
    return found


async def tick(app: web.Application) -> Findings:
    """Check, then tell customers and agents (after the changes are committed)."""
    found = await asyncio.to_thread(check_once, app)
    hub, line = app[HUB], app[CUSTOMER_LINE]
    for _number, conversation_id in found.to_tell:
        await line.say(conversation_id, customer_texts.QUEUE_TIMED_OUT)
    for number in found.warned:
        await hub.publish(SLA_WARNING, number=number)
        await hub.publish(CASE_CHANGED, number=number)
    for number in found.escalated:
        await hub.publish(SLA_BREACH, number=number)
        await hub.publish(CASE_CHANGED, number=number)
    if found.warned or found.escalated:
        await hub.publish(QUEUE_CHANGED)
    return found


def sla_watcher(interval: float):
    """An aiohttp cleanup context running :func:`tick` every ``interval`` seconds."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await tick(app)
                except Exception:  # a database hiccup must not stop the watcher
                    logger.exception("SLA check failed; trying again in %.0fs", interval)
                await asyncio.sleep(interval)

        task = asyncio.get_running_loop().create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run
