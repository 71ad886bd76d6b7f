"""What agents see of agents and cases, as plain JSON-ready data.

Every text that may carry a personal number passes through
``bot.privacy.mask_text`` here (messages, notes, the bot's summary, the
resolution), so the console never shows a full phone, ID or card number.
Times are ISO 8601 in the customers' timezone.
"""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, Dict, List, Mapping, Optional

from bot.booking.calendar import ServiceCalendar
from bot.handoff.models import Agent, Case, CaseEvent, CaseMessage, CaseStatus
from bot.handoff.repositories import TrackedCase, is_handler, is_owner
from bot.handoff.sla import sla_state, warning_time
from bot.privacy import mask_name, mask_phone, mask_text

QUEUE_SUMMARY_LENGTH = 80


def iso(moment: Optional[datetime], timezone: tzinfo) -> Optional[str]:
    return moment.astimezone(timezone).isoformat(timespec="seconds") if moment else None


def labelled(member) -> Dict[str, str]:
    return {"value": member.value, "label": member.label}


def agent_brief(agent: Optional[Agent]) -> Optional[Dict[str, str]]:
    if agent is None:
        return None
    return {"username": agent.username, "display_name": agent.display_name}


def agent_me(agent: Agent) -> Dict[str, Any]:
    return {
        **agent_brief(agent),
        "role": labelled(agent.role),
        "is_supervisor": agent.is_supervisor,
    }


def masked(value: Any) -> Any:
    """``value`` with every string (and number) in it masked, recursively."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = mask_text(str(value))
        return value if shown == str(value) else shown
    return value


def summary_line(summary: Mapping[str, Any]) -> str:
    """One masked line for the queue: the customer's question, else the intent.
    Masked before it is shortened, so a cut never leaves digits unmasked."""
    text = summary.get("question") or summary.get("intent") or ""
    line = " ".join(mask_text(str(text)).split())
    if len(line) > QUEUE_SUMMARY_LENGTH:
        line = line[: QUEUE_SUMMARY_LENGTH - 1] + "…"
    return line


def queue_item(tracked: TrackedCase, now: datetime, timezone: tzinfo) -> Dict[str, Any]:
    case = tracked.case
    return {
        "number": case.number,
        "waiting_minutes": max(0, int((now - case.created_at).total_seconds() // 60)),
        "priority": labelled(case.priority),
        "channel": case.channel,
        "reason": labelled(case.reason),
        "summary": summary_line(case.summary),
        "off_hours": case.off_hours,
        "created_at": iso(case.created_at, timezone),
        "sla": labelled(tracked.sla),
        "due": iso(tracked.due, timezone),
    }


def desk_item(
    tracked: TrackedCase, agent: Agent, agents: Mapping[int, Agent], timezone: tzinfo
) -> Dict[str, Any]:
    case = tracked.case
    return {
        "number": case.number,
        "priority": labelled(case.priority),
        "reason": labelled(case.reason),
        "channel": case.channel,
        "stage": labelled(case.stage),
        "summary": summary_line(case.summary),
        "my_role": "owner" if is_owner(agent, case) else "handler",
        "owner": agent_brief(agents.get(case.owner_id)),
        "handler": agent_brief(agents.get(case.handler_id)),
        "claimed_at": iso(case.claimed_at, timezone),
        "sla": labelled(tracked.sla),
        "due": iso(tracked.due, timezone),
        "warn_at": iso(tracked.warn_at, timezone),
        "first_responded_at": iso(case.first_responded_at, timezone),
    }


def case_brief(case: Case, agents: Mapping[int, Agent], timezone: tzinfo) -> Dict[str, Any]:
    return {
        "number": case.number,
        "status": labelled(case.status),
        "stage": labelled(case.stage),
        "priority": labelled(case.priority),
        "reason": labelled(case.reason),
        "owner": agent_brief(agents.get(case.owner_id)),
        "handler": agent_brief(agents.get(case.handler_id)),
        "created_at": iso(case.created_at, timezone),
        "closed_at": iso(case.closed_at, timezone),
        "due": iso(case.first_response_due, timezone),
        "first_responded_at": iso(case.first_responded_at, timezone),
        "escalated_at": iso(case.escalated_at, timezone),
    }


def permissions(case: Case, viewer: Agent) -> Dict[str, bool]:
    """Which buttons to offer; the repositories decide again on every request."""
    is_open = case.status is CaseStatus.OPEN
    owner = is_owner(viewer, case)
    return {
        "claim": case.status is CaseStatus.WAITING and case.owner_id is None,
        "write": is_open and (viewer.is_supervisor or is_handler(viewer, case)),
        "stage": is_open and is_handler(viewer, case),
        "transfer": is_open and owner,
        "consult": is_open and owner,
        "close": is_open and owner,
        "reassign": is_open and viewer.is_supervisor,
        "return_to_bot": (is_open and owner)
        or (case.status is CaseStatus.WAITING and viewer.is_supervisor),
    }


def message_view(
    message: CaseMessage, agents: Mapping[int, Agent], timezone: tzinfo
) -> Dict[str, Any]:
    return {
        "id": message.id,
        "author": labelled(message.author),
        "agent": agent_brief(agents.get(message.agent_id)),
        "text": mask_text(message.text),
        "private": message.private,
        "created_at": iso(message.created_at, timezone),
    }


def event_view(event: CaseEvent, agents: Mapping[int, Agent], timezone: tzinfo) -> Dict[str, Any]:
    return {
        "kind": labelled(event.kind),
        "actor": agent_brief(agents.get(event.actor_id)),
        "from_agent": agent_brief(agents.get(event.from_agent_id)),
        "to_agent": agent_brief(agents.get(event.to_agent_id)),
        "note": mask_text(event.note or ""),
        "created_at": iso(event.created_at, timezone),
    }


def case_detail(
    case: Case,
    viewer: Agent,
    messages: List[CaseMessage],
    events: List[CaseEvent],
    agents: Mapping[int, Agent],
    now: datetime,
    calendar: ServiceCalendar,
    timezone: tzinfo,
) -> Dict[str, Any]:
    customer = case.customer
    return {
        **case_brief(case, agents, timezone),
        "channel": case.channel,
        "off_hours": case.off_hours,
        "callback_phone": mask_phone(case.callback_phone) if case.callback_phone else None,
        "customer": (
            {"customer_no": customer.customer_no, "name": mask_name(customer.name)}
            if customer is not None
            else None
        ),
        "summary": masked(case.summary),
        "claimed_at": iso(case.claimed_at, timezone),
        "sla": labelled(sla_state(case, now, calendar)),
        "due": iso(case.first_response_due, timezone),
        "warn_at": iso(warning_time(case.first_response_due, calendar), timezone),
        "first_responded_at": iso(case.first_responded_at, timezone),
        "resolution_note": mask_text(case.resolution_note) if case.resolution_note else None,
        "messages": [message_view(message, agents, timezone) for message in messages],
        "events": [event_view(event, agents, timezone) for event in events],
        "can": permissions(case, viewer),
    }
