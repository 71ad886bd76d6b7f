"""The rules of a handoff case, as queries and race-free changes.

Like ``bot.db.repositories``: repositories work on the session they are
given, flush and never commit; a :class:`DomainError` (``NotAllowed``,
``CaseAlreadyClaimed``, ...) leaves the database and the session as they
were, and invalid input (an empty note, a score of 7) raises ``ValueError``
before anything changes.

Every change of a case is one conditional UPDATE whose WHERE clause restates
what the change assumes (``owner_id IS NULL AND status = 'waiting'`` for a
claim, ``owner_id = :me AND status = 'open'`` for closing...). The database
re-checks it under its row lock, so of two agents claiming at the same
moment exactly one wins, on SQLite and PostgreSQL alike. When the UPDATE
finds the case changed, the case is reloaded and the checks run again, so
the caller gets the precise reason (e.g. who owns it now).

Authorisation lives here, not in the web layer: an agent sees the shared
queue and the cases they own, handle or were consulted on; supervisors see
all. Every agent action leaves an :class:`AuditEntry` and every change of a
case a :class:`CaseEvent`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from bot.booking.calendar import ServiceCalendar
from bot.db.models import MAINLAND_MOBILE, Customer, utcnow
from bot.db.repositories import ConcurrentChange, DomainError, _Repository, _require_aware
from bot.handoff.models import (
    ACTIVE_STATUSES,
    CASE_NUMBER_PREFIX,
    SATISFACTION_SCORES,
    Agent,
    AgentRole,
    AuditAction,
    AuditEntry,
    CannedReply,
    Case,
    CaseEvent,
    CaseEventKind,
    CaseMessage,
    CasePriority,
    CaseStage,
    CaseStatus,
    HandoffReason,
    MessageAuthor,
)
from bot.handoff.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from bot.handoff.sla import SlaState, first_response_due, sla_state, warning_time

__all__ = [
    "AgentNotActive",
    "AgentRepository",
    "AuditRepository",
    "CannedReplyRepository",
    "CaseAlreadyClaimed",
    "CaseFilter",
    "CaseNotClosed",
    "CaseRepository",
    "ConcurrentChange",
    "DomainError",
    "NotAllowed",
    "SatisfactionAlreadyRecorded",
    "StageNotForward",
    "TrackedCase",
    "WrongCaseStatus",
    "case_number",
    "is_handler",
    "is_owner",
]

USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]{1,39}")
_NUMBER_ATTEMPTS = 10
_HANDED_TO = (CaseEventKind.CONSULTED, CaseEventKind.TRANSFERRED)


# --- errors -------------------------------------------------------------------


class NotAllowed(DomainError):
    """The agent may not do this to this case (not theirs, not a supervisor...)."""

    def __init__(self, agent: Agent, action: str, case: Optional[Case] = None):
        self.agent_id = agent.id
        self.action = action
        self.case_number = case.number if case is not None else None
        where = f" on case {case.number}" if case is not None else ""
        super().__init__(f"agent {agent.username} may not {action}{where}")


class CaseAlreadyClaimed(DomainError):
    """Someone else claimed the case first; they own it."""

    def __init__(self, case: Case, owner: Agent):
        self.case_number = case.number
        self.owner_id = owner.id
        self.owner_username = owner.username
        self.owner_display_name = owner.display_name
        super().__init__(f"case {case.number} is already claimed by {owner.username}")


class WrongCaseStatus(DomainError):
    """The case is not in a status that allows this (e.g. closing a waiting case)."""

    def __init__(self, case: Case, action: str, expected: Iterable[CaseStatus]):
        self.case_number = case.number
        self.status = case.status
        self.expected = frozenset(expected)
        wanted = " or ".join(sorted(status.value for status in self.expected))
        super().__init__(
            f"cannot {action} case {case.number}: it is {case.status.value} "
            f"({case.status.label}), not {wanted}"
        )


class StageNotForward(DomainError):
    def __init__(self, case: Case, stage: CaseStage):
        self.case_number = case.number
        self.from_stage = case.stage
        self.to_stage = stage
        super().__init__(
            f"case {case.number} cannot go from stage {case.stage.value} ({case.stage.label}) "
            f"back or sideways to {stage.value} ({stage.label})"
        )


class AgentNotActive(DomainError):
    def __init__(self, agent: Agent):
        self.agent_id = agent.id
        super().__init__(f"agent {agent.username} is not active")


class CaseNotClosed(DomainError):
    """Satisfaction is asked once the case is closed, not before."""

    def __init__(self, case: Case):
        self.case_number = case.number
        super().__init__(f"case {case.number} is {case.status.value}: rate it once it is closed")


class SatisfactionAlreadyRecorded(DomainError):
    def __init__(self, case: Case):
        self.case_number = case.number
        super().__init__(f"case {case.number} has already been rated")


# --- small pure helpers -----------------------------------------------------------


def case_number(day: date, sequence: int) -> str:
    """``AJ`` + the local day (YYYYMMDD) + a 4-digit daily sequence."""
    if not 1 <= sequence <= 9999:
        raise ValueError(f"case sequence out of range: {sequence}")
    return f"{CASE_NUMBER_PREFIX}{day:%Y%m%d}{sequence:04d}"


def is_owner(agent: Agent, case: Case) -> bool:
    return case.owner_id is not None and case.owner_id == agent.id


def is_handler(agent: Agent, case: Case) -> bool:
    """Owner or current handler: the two who work on the case."""
    return is_owner(agent, case) or (case.handler_id is not None and case.handler_id == agent.id)


def _required_text(value: Optional[str], what: str) -> str:
    if value is None or not value.strip():
        raise ValueError(f"{what} is required")
    return value.strip()


def _json_object(summary: Dict[str, Any]) -> Dict[str, Any]:
    if not isinstance(summary, dict):
        raise ValueError("the summary must be a JSON object (a dict)")
    try:
        json.dumps(summary)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the summary must be JSON-serialisable: {error}") from error
    return summary


@dataclass(frozen=True)
class TrackedCase:
    """A case with where it stands against its first-response deadline."""

    case: Case
    sla: SlaState
    warn_at: datetime

    @property
    def due(self) -> datetime:
        return self.case.first_response_due


@dataclass(frozen=True)
class CaseFilter:
    """What a supervisor narrows the list of all cases to; None means any."""

    status: Optional[CaseStatus] = None
    reason: Optional[HandoffReason] = None
    owner_id: Optional[int] = None
    conversation_id: Optional[str] = None
    created_from: Optional[datetime] = None
    created_before: Optional[datetime] = None
    limit: int = 200


# --- cases --------------------------------------------------------------------------


class CaseRepository(_Repository):
    """Cases from the bot's handoff to their close, under first-contact responsibility."""

    # -- reading ----------------------------------------------------------------

    def by_number(self, number: str) -> Optional[Case]:
        """The case without any authorisation check: for the bot's side (the
        customer's own conversation). Agents go through :meth:`view`."""
        return self.session.execute(
            select(Case).where(Case.number == number.strip().upper())
        ).scalars().first()

    def active_for_conversation(self, conversation_id: str) -> Optional[Case]:
        """The waiting or open case of this conversation, if any."""
        return self._active_case(conversation_id, None)

    def awaiting_satisfaction(self, conversation_id: str) -> Optional[Case]:
        """The conversation's most recently closed case not yet rated."""
        return self.session.execute(
            select(Case)
            .where(
                Case.conversation_id == conversation_id,
                Case.status == CaseStatus.CLOSED,
                Case.satisfaction_score.is_(None),
            )
            .order_by(Case.closed_at.desc(), Case.id.desc())
        ).scalars().first()

    def rated_case(self, conversation_id: str) -> Optional[Case]:
        """The conversation's most recently rated case (to add the comment to)."""
        return self.session.execute(
            select(Case)
            .where(Case.conversation_id == conversation_id, Case.satisfaction_at.is_not(None))
            .order_by(Case.satisfaction_at.desc(), Case.id.desc())
        ).scalars().first()

    def can_view(self, agent: Agent, case: Case) -> bool:
        """Supervisors see every case. Agents see the shared queue (waiting,
        unclaimed cases: they must be able to pick one), the cases they own or
        handle, and those they were once consulted on or transferred."""
        if not agent.active:
            return False
        if agent.is_supervisor or is_handler(agent, case):
            return True
        if case.status is CaseStatus.WAITING and case.owner_id is None:
            return True
        return self._was_handed_to(agent, case)

    def can_act(self, agent: Agent, case: Case) -> bool:
        """Whether the agent may write in the case: its owner, its handler, a supervisor."""
        return agent.active and (agent.is_supervisor or is_handler(agent, case))

    def view(self, agent: Agent, number: str, *, at: datetime) -> Optional[Case]:
        """The case with its messages and history, for an agent allowed to see
        it; the look is audited. None for an unknown number; NotAllowed for
        someone else's case."""
        case = self.session.execute(
            select(Case)
            .where(Case.number == number.strip().upper())
            .options(selectinload(Case.messages), selectinload(Case.events))
        ).scalars().first()
        if case is None:
            return None
        if not self.can_view(agent, case):
            raise NotAllowed(agent, "view", case)
        self._audit(agent, AuditAction.VIEW_CASE, at, case)
        self.session.flush()
        return case

    def queue(self, now: datetime, calendar: ServiceCalendar) -> List[TrackedCase]:
        """Waiting cases, high priority first, then the longest waiting."""
        urgency = sql_case((Case.priority == CasePriority.HIGH, 0), else_=1)
        cases = self.session.execute(
            select(Case)
            .where(Case.status == CaseStatus.WAITING)
            .order_by(urgency, Case.created_at, Case.id)
        ).scalars()
        return [self._tracked(case, now, calendar) for case in cases]

    def queue_position(self, case: Case) -> int:
        """1 for the next case an agent will take; 0 when the case is not waiting."""
        if case.status is not CaseStatus.WAITING:
            return 0
        urgent = case.priority is CasePriority.HIGH
        ahead = [Case.priority == CasePriority.HIGH] if urgent else []
        earlier = and_(*ahead, or_(Case.created_at < case.created_at,
                                   and_(Case.created_at == case.created_at, Case.id < case.id)))
        if not urgent:
            earlier = or_(Case.priority == CasePriority.HIGH, earlier)
        count = self.session.execute(
            select(func.count(Case.id)).where(Case.status == CaseStatus.WAITING, earlier)
        ).scalar_one()
        return count + 1

    def typical_wait(self, now: datetime, window: timedelta = timedelta(hours=24),
                     sample: int = 20) -> Optional[timedelta]:
        """The mean time to claim of the latest cases claimed within ``window``
        (None without any: then nothing is promised beyond the service standard)."""
        _require_aware(now)
        rows = self.session.execute(
            select(Case.created_at, Case.claimed_at)
            .where(Case.claimed_at.is_not(None), Case.claimed_at >= now - window)
            .order_by(Case.claimed_at.desc())
            .limit(sample)
        ).all()
        if not rows:
            return None
        return sum((claimed - created for created, claimed in rows), timedelta()) / len(rows)

    def open_cases_of(
        self, agent: Agent, now: datetime, calendar: ServiceCalendar
    ) -> List[TrackedCase]:
        """Open cases the agent owns or handles, the most urgent deadline first."""
        cases = self.session.execute(
            select(Case)
            .where(
                Case.status == CaseStatus.OPEN,
                or_(Case.owner_id == agent.id, Case.handler_id == agent.id),
            )
            .order_by(Case.first_response_due, Case.id)
        ).scalars()
        return [self._tracked(case, now, calendar) for case in cases]

    def all_cases(self, supervisor: Agent, filters: CaseFilter = CaseFilter()) -> List[Case]:
        """Every case matching ``filters``, newest first: supervisors only."""
        self._require_supervisor(supervisor, "list all cases")
        criteria = []
        if filters.status is not None:
            criteria.append(Case.status == filters.status)
        if filters.reason is not None:
            criteria.append(Case.reason == filters.reason)
        if filters.owner_id is not None:
            criteria.append(Case.owner_id == filters.owner_id)
        if filters.conversation_id is not None:
            criteria.append(Case.conversation_id == filters.conversation_id)
        if filters.created_from is not None:
            criteria.append(Case.created_at >= _require_aware(filters.created_from))
        if filters.created_before is not None:
            criteria.append(Case.created_at < _require_aware(filters.created_before))
        return list(
            self.session.execute(
                select(Case)
                .where(*criteria)
                .order_by(Case.created_at.desc(), Case.id.desc())
                .limit(filters.limit)
            ).scalars()
        )

    def breaches(self, now: datetime) -> List[Case]:
        """Waiting or open cases still unanswered after their first-response deadline."""
        return list(
            self.session.execute(
                select(Case)
                .where(*self._unanswered(), Case.first_response_due < _require_aware(now))
                .order_by(Case.first_response_due, Case.id)
            ).scalars()
        )

    def needing_warning(self, now: datetime, calendar: ServiceCalendar) -> List[Case]:
        """Unanswered cases inside their warning window, not warned yet."""
        candidates = self.session.execute(
            select(Case)
            .where(
                *self._unanswered(),
                Case.warned_at.is_(None),
                Case.first_response_due >= _require_aware(now),
            )
            .order_by(Case.first_response_due, Case.id)
        ).scalars()
        return [case for case in candidates if sla_state(case, now, calendar) is SlaState.WARNING]

    def messages(self, case: Case, *, include_private: bool) -> List[CaseMessage]:
        """The transcript in order; the customer's view leaves agents' notes out."""
        criteria = [CaseMessage.case_id == case.id]
        if not include_private:
            criteria.append(CaseMessage.private.is_(False))
        return list(
            self.session.execute(
                select(CaseMessage)
                .where(*criteria)
                .order_by(CaseMessage.created_at, CaseMessage.id)
            ).scalars()
        )

    def events(self, case: Case) -> List[CaseEvent]:
        return list(
            self.session.execute(
                select(CaseEvent)
                .where(CaseEvent.case_id == case.id)
                .order_by(CaseEvent.created_at, CaseEvent.id)
            ).scalars()
        )

    # -- the bot hands over -------------------------------------------------------

    def open_case(
        self,
        conversation_id: str,
        channel: str,
        reason: Union[HandoffReason, str],
        summary: Dict[str, Any],
        at: datetime,
        calendar: ServiceCalendar,
        *,
        customer: Optional[Customer] = None,
        callback_phone: Optional[str] = None,
    ) -> Case:
        """The customer's active case, or a new one waiting in the queue.

        A customer who asks again (same conversation, or same known customer)
        comes back to their case and so to its owner; ``customer_returned``
        is recorded when someone already has it. A new case gets its priority
        from the reason, ``off_hours`` from the calendar and a first-response
        deadline 20 service minutes away. Two requests racing for the same
        conversation get the same case (the database allows one active case
        per conversation and per customer)."""
        _require_aware(at)
        reason = HandoffReason(reason)
        summary = _json_object(summary)
        if callback_phone is not None and not MAINLAND_MOBILE.fullmatch(callback_phone):
            raise ValueError(f"not an 11-digit mainland mobile number: {callback_phone!r}")
        customer_id = customer.id if customer is not None else None
        existing = self._active_case(conversation_id, customer_id)
        if existing is not None:
            return self._welcome_back(existing, conversation_id, channel, reason, at)
        day = calendar.localize(at).date()
        for _ in range(_NUMBER_ATTEMPTS):
            number = self._next_number(day)
            if self._insert_if_absent(
                number=number,
                conversation_id=conversation_id,
                channel=channel,
                customer_id=customer_id,
                reason=reason,
                priority=reason.priority,
                status=CaseStatus.WAITING,
                stage=CaseStage.RECEIVED,
                summary=summary,
                off_hours=not calendar.is_open(at),
                callback_phone=callback_phone,
                created_at=at,
                first_response_due=first_response_due(at, calendar),
            ):
                case = self.by_number(number)
                self._event(case, CaseEventKind.CREATED, at, note=reason.label)
                self.session.flush()
                return case
            # Either a racing request opened this customer's case a moment ago,
            # or another customer's case took the number: look again.
            existing = self._active_case(conversation_id, customer_id)
            if existing is not None:
                return self._welcome_back(existing, conversation_id, channel, reason, at)
        raise RuntimeError(f"no free case number for {day} after {_NUMBER_ATTEMPTS} attempts")

    def leave_callback_number(self, case: Case, phone: str, at: datetime) -> bool:
        """The waiting customer's number for a call back (once; False when the
        case already has one or is no longer waiting)."""
        _require_aware(at)
        if not MAINLAND_MOBILE.fullmatch(phone):
            raise ValueError("not an 11-digit mainland mobile number")
        if not self._change(
            case,
            [Case.status == CaseStatus.WAITING, Case.callback_phone.is_(None)],
            callback_phone=phone,
        ):
            self.session.refresh(case)
            return False
        self._event(case, CaseEventKind.CALLBACK_REQUESTED, at)
        self.session.flush()
        return True

    def add_satisfaction_comment(self, case: Case, comment: str, at: datetime) -> bool:
        """The customer's optional words after rating (once)."""
        _require_aware(at)
        comment = _required_text(comment, "a comment").strip()
        changed = self._change(
            case,
            [Case.satisfaction_score.is_not(None), Case.satisfaction_comment.is_(None)],
            satisfaction_comment=comment,
        )
        if not changed:
            self.session.refresh(case)
        return changed

    def add_message(
        self,
        case: Case,
        author: Union[MessageAuthor, str],
        text: str,
        agent: Optional[Agent] = None,
        private: bool = False,
        *,
        at: datetime,
    ) -> CaseMessage:
        """Append a line to the case. Agents write only in open cases they may
        act on; private messages are agents' notes. An agent's first message
        to the customer is the first response (recorded once)."""
        _require_aware(at)
        author = MessageAuthor(author)
        _required_text(text, "message text")  # stored as written, not stripped
        if author is MessageAuthor.AGENT:
            if agent is None:
                raise ValueError("an agent's message needs the agent")
            self._require_active(agent)
            if not self.can_act(agent, case):
                raise NotAllowed(agent, "write", case)
            self._require_status(case, "write in", CaseStatus.OPEN)
        elif agent is not None or private:
            raise ValueError("only agents write private notes or sign messages")
        message = CaseMessage(
            case=case,
            author=author,
            agent_id=agent.id if agent is not None else None,
            text=text,
            private=private,
            created_at=at,
        )
        self.session.add(message)
        if agent is not None and not private and case.first_responded_at is None:
            if not self._change(case, [Case.first_responded_at.is_(None)], first_responded_at=at):
                self.session.refresh(case, ["first_responded_at"])  # a colleague was first
        if agent is not None:
            action = AuditAction.ADD_NOTE if private else AuditAction.SEND_MESSAGE
            self._audit(agent, action, at, case)
        self.session.flush()
        return message

    # -- first contact ------------------------------------------------------------

    def claim(self, case: Case, agent: Agent, at: datetime) -> Case:
        """Take a waiting case: the agent becomes its owner (首问责任人) and
        handler. Exactly one of several agents claiming at once succeeds; the
        others get CaseAlreadyClaimed naming the owner."""
        _require_aware(at)
        self._require_active(agent)

        def check() -> None:
            if case.owner_id is not None:
                raise CaseAlreadyClaimed(case, self.session.get(Agent, case.owner_id))
            self._require_status(case, "claim", CaseStatus.WAITING)

        self._guarded(
            case,
            check,
            [Case.owner_id.is_(None), Case.status == CaseStatus.WAITING],
            owner_id=agent.id,
            handler_id=agent.id,
            status=CaseStatus.OPEN,
            claimed_at=at,
        )
        self._event(case, CaseEventKind.CLAIMED, at, actor=agent, to_agent=agent)
        self._audit(agent, AuditAction.CLAIM, at, case)
        self.session.flush()
        return case

    def advance_stage(
        self, case: Case, agent: Agent, stage: Union[CaseStage, str], at: datetime
    ) -> Case:
        """Move the work forward (受理 → 调查 → 处理 → 反馈; steps may be skipped,
        never undone): the owner or the handler only."""
        _require_aware(at)
        stage = CaseStage(stage)
        self._require_active(agent)
        old = case.stage

        def check() -> None:
            if not is_handler(agent, case):
                raise NotAllowed(agent, "change the stage", case)
            self._require_status(case, "change the stage of", CaseStatus.OPEN)
            if not case.stage.can_become(stage):
                raise StageNotForward(case, stage)

        self._guarded(
            case, check, [Case.status == CaseStatus.OPEN, Case.stage == old], stage=stage
        )
        self._event(
            case, CaseEventKind.STAGE_CHANGED, at, actor=agent, note=f"{old.label} → {stage.label}"
        )
        self._audit(
            agent, AuditAction.ADVANCE_STAGE, at, case, detail=f"{old.value}->{stage.value}"
        )
        self.session.flush()
        return case

    def consult(self, case: Case, owner: Agent, colleague: Agent, note: str, at: datetime) -> Case:
        """Bring in a colleague (协同): they handle the case for now, the owner stays accountable."""
        if colleague.id == owner.id:
            raise ValueError("consult a colleague, not yourself")
        return self._hand_to(
            case, owner, colleague, note, at, CaseEventKind.CONSULTED, AuditAction.CONSULT
        )

    def transfer(self, case: Case, owner: Agent, colleague: Agent, note: str, at: datetime) -> Case:
        """Hand the handling to a colleague (转交); the owner stays accountable
        and still closes. Transferring to oneself takes the handling back."""
        return self._hand_to(
            case, owner, colleague, note, at, CaseEventKind.TRANSFERRED, AuditAction.TRANSFER
        )

    def take_back(self, case: Case, owner: Agent, at: datetime, note: str = "责任人收回处理") -> Case:
        """The owner handles the case again after a consultation or transfer."""
        return self.transfer(case, owner, owner, note, at)

    def reassign(
        self, case: Case, supervisor: Agent, new_owner: Agent, reason: str, at: datetime
    ) -> Case:
        """The only way ownership changes: a supervisor, with a recorded reason
        (the owner is off sick, a complaint against them...). The new owner
        also becomes the handler."""
        _require_aware(at)
        self._require_supervisor(supervisor, "reassign", case)
        reason = _required_text(reason, "a reason for the reassignment")
        self._require_active(new_owner)
        old_owner_id = case.owner_id

        def check() -> None:
            self._require_status(case, "reassign", CaseStatus.OPEN)
            if case.owner_id == new_owner.id:
                raise ValueError(f"{new_owner.username} already owns case {case.number}")

        self._guarded(
            case,
            check,
            [Case.status == CaseStatus.OPEN, _is(Case.owner_id, old_owner_id)],
            owner_id=new_owner.id,
            handler_id=new_owner.id,
        )
        self._event(
            case, CaseEventKind.REASSIGNED, at, actor=supervisor,
            from_agent_id=old_owner_id, to_agent=new_owner, note=reason,
        )
        self._audit(
            supervisor, AuditAction.REASSIGN, at, case,
            detail=f"{old_owner_id}->{new_owner.id}: {reason}",
        )
        self.session.flush()
        return case

    # -- the end of a case ----------------------------------------------------------

    def close(self, case: Case, agent: Agent, resolution_note: str, at: datetime) -> Case:
        """Close the case (办结) with how it was resolved: its owner only."""
        _require_aware(at)
        resolution_note = _required_text(resolution_note, "a resolution note")
        self._require_active(agent)

        def check() -> None:
            if not is_owner(agent, case):
                raise NotAllowed(agent, "close (only the owner closes)", case)
            self._require_status(case, "close", CaseStatus.OPEN)

        self._guarded(
            case,
            check,
            [Case.status == CaseStatus.OPEN, Case.owner_id == agent.id],
            status=CaseStatus.CLOSED,
            closed_at=at,
            resolution_note=resolution_note,
        )
        self._event(case, CaseEventKind.CLOSED, at, actor=agent, note=resolution_note)
        self._audit(agent, AuditAction.CLOSE, at, case)
        self.session.flush()
        return case

    def return_to_bot(
        self, case: Case, agent: Optional[Agent], at: datetime, note: str = ""
    ) -> Case:
        """Give the conversation back to the bot. An open case: its owner
        only. A waiting case: the customer withdrawing (``agent=None``) or a
        supervisor."""
        _require_aware(at)
        if agent is not None:
            self._require_active(agent)
        status = case.status
        owner_id = case.owner_id

        def check() -> None:
            self._require_status(case, "return to the bot", CaseStatus.WAITING, CaseStatus.OPEN)
            if case.status is CaseStatus.OPEN and (agent is None or not is_owner(agent, case)):
                if agent is None:
                    raise ValueError(f"case {case.number} is open: its owner returns it")
                raise NotAllowed(agent, "return to the bot (only the owner may)", case)
            if case.status is CaseStatus.WAITING and agent is not None and not agent.is_supervisor:
                raise NotAllowed(
                    agent, "return an unclaimed case to the bot (claim it first)", case
                )

        self._guarded(
            case,
            check,
            [Case.status == status, _is(Case.owner_id, owner_id)],
            status=CaseStatus.RETURNED_TO_BOT,
            closed_at=at,
        )
        self._event(case, CaseEventKind.RETURNED_TO_BOT, at, actor=agent, note=note)
        if agent is not None:
            self._audit(agent, AuditAction.RETURN_TO_BOT, at, case)
        self.session.flush()
        return case

    def mark_timed_out(self, case: Case, at: datetime, note: str = "") -> Case:
        """Nobody took the waiting case within the limit: it ends (abandoned)
        and the bot tells the customer how to reach the bank. Fails with
        WrongCaseStatus when it was claimed meanwhile."""
        _require_aware(at)
        self._guarded(
            case,
            lambda: self._require_status(case, "time out", CaseStatus.WAITING),
            [Case.status == CaseStatus.WAITING, Case.owner_id.is_(None)],
            status=CaseStatus.ABANDONED,
            closed_at=at,
        )
        self._event(case, CaseEventKind.TIMED_OUT, at, note=note)
        self.session.flush()
        return case

    def record_satisfaction(
        self, case: Case, score: int, comment: Optional[str], at: datetime
    ) -> Case:
        """The customer's 1-5 rating of a closed case, once."""
        _require_aware(at)
        is_integer = isinstance(score, int) and not isinstance(score, bool)
        if not is_integer or score not in SATISFACTION_SCORES:
            raise ValueError(f"a satisfaction score is 1 to 5, not {score!r}")
        comment = comment.strip() if comment and comment.strip() else None

        def check() -> None:
            if case.status is not CaseStatus.CLOSED:
                raise CaseNotClosed(case)
            if case.satisfaction_score is not None:
                raise SatisfactionAlreadyRecorded(case)

        self._guarded(
            case,
            check,
            [Case.status == CaseStatus.CLOSED, Case.satisfaction_score.is_(None)],
            satisfaction_score=score,
            satisfaction_comment=comment,
            satisfaction_at=at,
        )
        self._event(case, CaseEventKind.SATISFACTION, at, note=f"{score}分")
        self.session.flush()
        return case

    # -- SLA watcher ------------------------------------------------------------------

    def warn(self, case: Case, at: datetime) -> bool:
        """Record that the deadline is near (once). False when the case was
        already warned, answered or ended: nothing to do."""
        return self._mark_sla(case, at, Case.warned_at, CaseEventKind.WARNED, "")

    def escalate(self, case: Case, at: datetime, note: str = "") -> bool:
        """Record that the deadline passed unanswered and supervisors are told (once)."""
        return self._mark_sla(case, at, Case.escalated_at, CaseEventKind.ESCALATED, note)

    # -- internals ------------------------------------------------------------------------

    def _mark_sla(self, case: Case, at: datetime, column, kind: CaseEventKind, note: str) -> bool:
        _require_aware(at)
        if not self._change(case, [column.is_(None), *self._unanswered()], **{column.key: at}):
            self.session.refresh(case)
            return False
        self._event(case, kind, at, note=note)
        self.session.flush()
        return True

    def _hand_to(
        self,
        case: Case,
        owner: Agent,
        colleague: Agent,
        note: str,
        at: datetime,
        kind: CaseEventKind,
        action: AuditAction,
    ) -> Case:
        _require_aware(at)
        note = _required_text(note, "a note for the colleague")
        self._require_active(owner)
        self._require_active(colleague)
        old_handler_id = case.handler_id

        def check() -> None:
            if not is_owner(owner, case):
                raise NotAllowed(owner, f"{action.value} (only the owner may)", case)
            self._require_status(case, action.value, CaseStatus.OPEN)
            if case.handler_id == colleague.id:
                raise ValueError(f"{colleague.username} already handles case {case.number}")

        self._guarded(
            case,
            check,
            [
                Case.status == CaseStatus.OPEN,
                Case.owner_id == owner.id,
                _is(Case.handler_id, old_handler_id),
            ],
            handler_id=colleague.id,
        )
        self._event(
            case, kind, at, actor=owner, from_agent_id=old_handler_id, to_agent=colleague, note=note
        )
        self._audit(owner, action, at, case, detail=f"{old_handler_id}->{colleague.id}")
        self.session.flush()
        return case

    def _guarded(
        self, case: Case, check: Callable[[], None], conditions: Sequence, **values: Any
    ) -> None:
        """Check on the case as loaded, then change it only if the database
        still agrees. If not, reload and check again: the caller learns why
        (e.g. CaseAlreadyClaimed), or gets ConcurrentChange."""
        check()
        if self._change(case, conditions, **values):
            return
        self.session.refresh(case)
        check()
        raise ConcurrentChange(f"case {case.number} changed meanwhile")

    def _change(self, case: Case, conditions: Sequence, **values: Any) -> bool:
        changed = self._update_if(
            update(Case).where(Case.id == case.id, *conditions).values(**values)
        )
        if changed:
            for key, value in values.items():
                set_committed_value(case, key, value)
            # The relationships follow their foreign keys on next access.
            stale = [name for name in ("owner", "handler") if f"{name}_id" in values]
            if stale:
                self.session.expire(case, stale)
        return changed

    def _welcome_back(
        self, case: Case, conversation_id: str, channel: str, reason: HandoffReason, at: datetime
    ) -> Case:
        """The customer's active case again. Coming back on another
        conversation (another channel, recognised as the same customer), the
        case follows them there: the owner's messages now reach them where
        they are."""
        note = reason.label
        if case.conversation_id != conversation_id:
            note = f"{reason.label}（经{channel}渠道再次接入）"
            self._change(
                case,
                [Case.conversation_id == case.conversation_id],
                conversation_id=conversation_id,
                channel=channel,
            )
        if case.status is CaseStatus.OPEN or note != reason.label:
            self._event(case, CaseEventKind.CUSTOMER_RETURNED, at, note=note)
            self.session.flush()
        return case

    def _active_case(self, conversation_id: str, customer_id: Optional[int]) -> Optional[Case]:
        mine = [Case.conversation_id == conversation_id]
        if customer_id is not None:
            mine.append(Case.customer_id == customer_id)
        return self.session.execute(
            select(Case)
            .where(or_(*mine), Case.status.in_(list(ACTIVE_STATUSES)))
            .order_by(Case.created_at, Case.id)
        ).scalars().first()

    def _next_number(self, day: date) -> str:
        prefix = case_number(day, 1)[:-4]
        last = self.session.execute(
            select(func.max(Case.number)).where(Case.number.like(f"{prefix}%"))
        ).scalar()
        return case_number(day, int(last[-4:]) + 1 if last else 1)

    def _insert_if_absent(self, **values: Any) -> bool:
        """INSERT … ON CONFLICT DO NOTHING: False when the number or the
        one-active-case-per-conversation/customer rule is already taken."""
        dialect = self.session.get_bind().dialect.name
        insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect]
        result = self.session.execute(
            insert(Case.__table__).values(**values).on_conflict_do_nothing()
        )
        return result.rowcount == 1

    def _was_handed_to(self, agent: Agent, case: Case) -> bool:
        return self.session.execute(
            select(CaseEvent.id)
            .where(
                CaseEvent.case_id == case.id,
                CaseEvent.kind.in_(_HANDED_TO),
                CaseEvent.to_agent_id == agent.id,
            )
            .limit(1)
        ).first() is not None

    @staticmethod
    def _unanswered() -> List:
        return [Case.status.in_(list(ACTIVE_STATUSES)), Case.first_responded_at.is_(None)]

    @staticmethod
    def _tracked(case: Case, now: datetime, calendar: ServiceCalendar) -> TrackedCase:
        return TrackedCase(
            case=case,
            sla=sla_state(case, now, calendar),
            warn_at=warning_time(case.first_response_due, calendar),
        )

    @staticmethod
    def _require_status(case: Case, action: str, *allowed: CaseStatus) -> None:
        if case.status not in allowed:
            raise WrongCaseStatus(case, action, allowed)

    @staticmethod
    def _require_active(agent: Agent) -> None:
        if not agent.active:
            raise AgentNotActive(agent)

    @staticmethod
    def _require_supervisor(agent: Agent, action: str, case: Optional[Case] = None) -> None:
        if not (agent.active and agent.is_supervisor):
            raise NotAllowed(agent, action, case)

    def _event(
        self,
        case: Case,
        kind: CaseEventKind,
        at: datetime,
        *,
        actor: Optional[Agent] = None,
        to_agent: Optional[Agent] = None,
        from_agent_id: Optional[int] = None,
        note: str = "",
    ) -> CaseEvent:
        event = CaseEvent(
            case=case,
            kind=kind,
            actor_id=actor.id if actor is not None else None,
            from_agent_id=from_agent_id,
            to_agent_id=to_agent.id if to_agent is not None else None,
            note=note,
            created_at=at,
        )
        self.session.add(event)
        return event

    def _audit(
        self,
        agent: Agent,
        action: AuditAction,
        at: datetime,
        case: Optional[Case],
        detail: str = "",
    ) -> None:
        AuditRepository(self.session).record(action, at, agent=agent, case=case, detail=detail)


def _is(column, value: Optional[int]):
    """``column = value``, or ``column IS NULL`` for None (``= NULL`` is never true)."""
    return column.is_(None) if value is None else column == value


# --- agents -------------------------------------------------------------------------


class AgentRepository(_Repository):
    def by_username(self, username: str) -> Optional[Agent]:
        return self.session.execute(
            select(Agent).where(Agent.username == self.normalise(username))
        ).scalars().first()

    def all(self, *, active_only: bool = False) -> List[Agent]:
        statement = select(Agent).order_by(Agent.username)
        if active_only:
            statement = statement.where(Agent.active.is_(True))
        return list(self.session.execute(statement).scalars())

    def create(
        self,
        username: str,
        display_name: str,
        password: str,
        *,
        role: AgentRole = AgentRole.AGENT,
        at: Optional[datetime] = None,
    ) -> Agent:
        username = self.normalise(username)
        if not USERNAME.fullmatch(username):
            raise ValueError(f"usernames are 2-40 of a-z 0-9 _ . - : {username!r}")
        agent = Agent(
            username=username,
            display_name=_required_text(display_name, "a display name"),
            role=AgentRole(role),
            password_hash=hash_password(password),
            active=True,
            created_at=_require_aware(at) if at is not None else utcnow(),
        )
        self.session.add(agent)
        self.session.flush()
        return agent

    def set_password(self, agent: Agent, password: str) -> None:
        agent.password_hash = hash_password(password)
        self.session.flush()

    def authenticate(
        self, username: str, password: str, *, at: Optional[datetime] = None
    ) -> Optional[Agent]:
        """The active agent with this username and password, else None; both
        outcomes are audited (login / login_failed). An unknown username costs
        one Argon2 verification too, so timing does not reveal which exist.
        A hash made with outdated parameters is replaced on success."""
        at = _require_aware(at) if at is not None else utcnow()
        agent = self.by_username(username) if isinstance(username, str) else None
        matches = verify_password(password, agent.password_hash if agent else dummy_hash())
        audit = AuditRepository(self.session)
        if agent is None or not matches or not agent.active:
            why = "unknown user" if agent is None else ("inactive" if matches else "wrong password")
            tried = str(username)[:40]
            audit.record(AuditAction.LOGIN_FAILED, at, agent=agent, detail=f"{why}: {tried}")
            return None
        if needs_rehash(agent.password_hash):
            agent.password_hash = hash_password(password)
        audit.record(AuditAction.LOGIN, at, agent=agent)
        self.session.flush()
        return agent

    @staticmethod
    def normalise(username: str) -> str:
        return username.strip().lower()


# --- audit and canned replies -----------------------------------------------------------


class AuditRepository(_Repository):
    def record(
        self,
        action: Union[AuditAction, str],
        at: datetime,
        *,
        agent: Optional[Agent] = None,
        case: Optional[Case] = None,
        detail: str = "",
    ) -> AuditEntry:
        """One line of the audit trail. ``detail`` must not carry message
        texts or personal numbers: the trail is read by more people than cases are."""
        entry = AuditEntry(
            agent_id=agent.id if agent is not None else None,
            action=AuditAction(action),
            case_id=case.id if case is not None else None,
            detail=detail,
            at=_require_aware(at),
        )
        self.session.add(entry)
        self.session.flush()
        return entry

    def for_case(self, case: Case) -> List[AuditEntry]:
        return self._entries(AuditEntry.case_id == case.id)

    def for_agent(self, agent: Agent, *, since: Optional[datetime] = None) -> List[AuditEntry]:
        criteria = [AuditEntry.agent_id == agent.id]
        if since is not None:
            criteria.append(AuditEntry.at >= _require_aware(since))
        return self._entries(and_(*criteria))

    def _entries(self, criterion) -> List[AuditEntry]:
        return list(
            self.session.execute(
                select(AuditEntry).where(criterion).order_by(AuditEntry.at, AuditEntry.id)
            ).scalars()
        )


class CannedReplyRepository(_Repository):
    def active(self) -> List[CannedReply]:
        return list(
            self.session.execute(
                select(CannedReply).where(CannedReply.active.is_(True)).order_by(CannedReply.id)
            ).scalars()
        )
