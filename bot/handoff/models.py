"""Tables of the human handoff: agents, cases, their messages and history, the audit trail.

The tables share ``bot.db.models.Base`` (that module imports this one at its
end), so alembic, the schema test and the test fixtures see one metadata.

A *case* (工单) is one customer handed from the bot to a person. Under
first-contact responsibility (首问负责制) the agent who claims it first is its
*owner* (首问责任人) until it ends: ``owner_id`` is written once by the claim
and afterwards only by a supervisor's reassignment, which leaves an event with
its reason. The *handler* is whoever is working on it now: the owner, or a
colleague consulted or transferred to. The owner stays accountable and is the
only one who closes it.

At most one case per conversation, and per known customer, is active
(waiting or open) at a time: partial unique indexes make the database refuse
a second one, so a customer who asks again comes back to the same case.

Timestamps are aware UTC (``UTCDateTime``); enum columns hold the English
value, the Chinese label is ``member.label``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, FrozenSet, List, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, relationship, validates

from bot.db.models import (
    MAINLAND_MOBILE,
    Base,
    Customer,
    LabelledEnum,
    UTCDateTime,
    _stored_as_value,
    utcnow,
)

# ``AJ`` (案件) + the local day + a 4-digit daily sequence: AJ202611280001.
CASE_NUMBER_PREFIX = "AJ"
SATISFACTION_SCORES = range(1, 6)


class AgentRole(LabelledEnum):
    AGENT = ("agent", "客服")
    SUPERVISOR = ("supervisor", "主管")


class HandoffReason(LabelledEnum):
    REQUEST_HUMAN = ("request_human", "客户要求转人工")
    FALLBACK = ("fallback", "机器人无法解答")
    COMPLAINT = ("complaint", "投诉")
    HIGH_RISK = ("high_risk", "高风险")

    @property
    def priority(self) -> "CasePriority":
        """High-risk cases (fraud, a lost card...) jump the queue; all others wait in turn."""
        return CasePriority.HIGH if self is HandoffReason.HIGH_RISK else CasePriority.NORMAL


class CasePriority(LabelledEnum):
    HIGH = ("high", "紧急")
    NORMAL = ("normal", "普通")


class CaseStatus(LabelledEnum):
    WAITING = ("waiting", "排队中")
    OPEN = ("open", "处理中")
    CLOSED = ("closed", "已办结")
    RETURNED_TO_BOT = ("returned_to_bot", "已转回机器人")
    ABANDONED = ("abandoned", "超时未接入")

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES: FrozenSet[CaseStatus] = frozenset({CaseStatus.WAITING, CaseStatus.OPEN})


class CaseStage(LabelledEnum):
    """Where the work on an open case stands; it only moves forward."""

    RECEIVED = ("received", "受理")
    INVESTIGATING = ("investigating", "调查")
    HANDLING = ("handling", "处理")
    FEEDBACK = ("feedback", "反馈")

    @property
    def rank(self) -> int:
        return list(CaseStage).index(self)

    def can_become(self, other: "CaseStage") -> bool:
        return other.rank > self.rank


class MessageAuthor(LabelledEnum):
    CUSTOMER = ("customer", "客户")
    AGENT = ("agent", "客服")
    BOT = ("bot", "机器人")
    SYSTEM = ("system", "系统")


class CaseEventKind(LabelledEnum):
    CREATED = ("created", "创建")
    CLAIMED = ("claimed", "接入")
    STAGE_CHANGED = ("stage_changed", "阶段变更")
    CONSULTED = ("consulted", "协同咨询")
    TRANSFERRED = ("transferred", "转交处理")
    REASSIGNED = ("reassigned", "主管改派")
    WARNED = ("warned", "超时预警")
    ESCALATED = ("escalated", "超时升级")
    CUSTOMER_RETURNED = ("customer_returned", "客户再次接入")
    CLOSED = ("closed", "办结")
    RETURNED_TO_BOT = ("returned_to_bot", "转回机器人")
    SATISFACTION = ("satisfaction", "满意度评价")
    TIMED_OUT = ("timed_out", "超时未接入")
    CALLBACK_REQUESTED = ("callback_requested", "客户留下回电号码")


class AuditAction(LabelledEnum):
    """What an agent did in the console; a closed list so reports can count it."""

    LOGIN = ("login", "登录")
    LOGIN_FAILED = ("login_failed", "登录失败")
    LOGOUT = ("logout", "退出登录")
    VIEW_QUEUE = ("view_queue", "查看排队")
    VIEW_CASE = ("view_case", "查看工单")
    CLAIM = ("claim", "接入工单")
    SEND_MESSAGE = ("send_message", "发送消息")
    ADD_NOTE = ("add_note", "添加内部备注")
    ADVANCE_STAGE = ("advance_stage", "推进阶段")
    CONSULT = ("consult", "协同咨询")
    TRANSFER = ("transfer", "转交处理")
    REASSIGN = ("reassign", "主管改派")
    CLOSE = ("close", "办结工单")
    RETURN_TO_BOT = ("return_to_bot", "转回机器人")


class Agent(Base):
    """A person of the service team who logs into the handoff console."""

    __tablename__ = "agents"

    id: Mapped[int] = Column(Integer, primary_key=True)
    username: Mapped[str] = Column(String(40), nullable=False, unique=True)
    display_name: Mapped[str] = Column(String(50), nullable=False)
    role: Mapped[AgentRole] = Column(
        _stored_as_value(AgentRole), nullable=False, default=AgentRole.AGENT
    )
    # Argon2id, see bot.handoff.passwords; never the password itself.
    password_hash: Mapped[str] = Column(String(255), nullable=False)
    active: Mapped[bool] = Column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False, default=utcnow)

    @property
    def is_supervisor(self) -> bool:
        return self.role is AgentRole.SUPERVISOR

    def __repr__(self) -> str:  # never the hash
        return f"<Agent {self.username} {self.role.value}>"


def _active_statuses_sql() -> str:
    values = ", ".join(f"'{status.value}'" for status in CaseStatus if status.is_active)
    return f"status IN ({values})"


class Case(Base):
    """One customer handed to a person (see the module docstring for owner/handler)."""

    __tablename__ = "handoff_cases"
    __table_args__ = (
        CheckConstraint(
            "satisfaction_score IS NULL OR satisfaction_score BETWEEN 1 AND 5",
            name="satisfaction_score_range",
        ),
        Index(
            "uq_handoff_cases_active_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text(_active_statuses_sql()),
            postgresql_where=text(_active_statuses_sql()),
        ),
        Index(
            "uq_handoff_cases_active_customer",
            "customer_id",
            unique=True,
            sqlite_where=text(_active_statuses_sql()),
            postgresql_where=text(_active_statuses_sql()),
        ),
        Index("ix_handoff_cases_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    number: Mapped[str] = Column(String(14), nullable=False, unique=True)
    conversation_id: Mapped[str] = Column(String(255), nullable=False)
    channel: Mapped[str] = Column(String(32), nullable=False)
    customer_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("customers.id"))
    reason: Mapped[HandoffReason] = Column(_stored_as_value(HandoffReason), nullable=False)
    priority: Mapped[CasePriority] = Column(_stored_as_value(CasePriority), nullable=False)
    status: Mapped[CaseStatus] = Column(_stored_as_value(CaseStatus), nullable=False)
    stage: Mapped[CaseStage] = Column(_stored_as_value(CaseStage), nullable=False)
    owner_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("agents.id"), index=True)
    handler_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("agents.id"), index=True)
    # What the bot hands over: intent, the customer's question, answers already
    # given, slots, whether the customer was verified.
    summary: Mapped[Dict[str, Any]] = Column(JSON, nullable=False)
    # Created outside service hours: the customer was told when someone answers.
    off_hours: Mapped[bool] = Column(Boolean, nullable=False)
    callback_phone: Mapped[Optional[str]] = Column(String(11))
    created_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    claimed_at: Mapped[Optional[datetime]] = Column(UTCDateTime())
    # 20 minutes of service time after creation (bot.handoff.sla).
    first_response_due: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    first_responded_at: Mapped[Optional[datetime]] = Column(UTCDateTime())
    warned_at: Mapped[Optional[datetime]] = Column(UTCDateTime())
    escalated_at: Mapped[Optional[datetime]] = Column(UTCDateTime())
    # When the case left human service: closed, returned to the bot or timed out.
    closed_at: Mapped[Optional[datetime]] = Column(UTCDateTime())
    resolution_note: Mapped[Optional[str]] = Column(Text)
    satisfaction_score: Mapped[Optional[int]] = Column(Integer)
    satisfaction_comment: Mapped[Optional[str]] = Column(Text)
    satisfaction_at: Mapped[Optional[datetime]] = Column(UTCDateTime())

    customer: Mapped[Optional[Customer]] = relationship(Customer)
    owner: Mapped[Optional[Agent]] = relationship(Agent, foreign_keys=[owner_id])
    handler: Mapped[Optional[Agent]] = relationship(Agent, foreign_keys=[handler_id])
    messages: Mapped[List["CaseMessage"]] = relationship(
        "CaseMessage",
        back_populates="case",
        order_by=lambda: (CaseMessage.created_at, CaseMessage.id),
        cascade="all, delete-orphan",
    )
    events: Mapped[List["CaseEvent"]] = relationship(
        "CaseEvent",
        back_populates="case",
        order_by=lambda: (CaseEvent.created_at, CaseEvent.id),
        cascade="all, delete-orphan",
    )

    @validates("callback_phone")
    def _validate_callback_phone(self, _key: str, value: Optional[str]) -> Optional[str]:
        if value is not None and not MAINLAND_MOBILE.fullmatch(value):
            raise ValueError(f"not an 11-digit mainland mobile number: {value!r}")
        return value

    def __repr__(self) -> str:  # no personal data in logs
        return f"<Case {self.number} {self.status.value}>"


class CaseMessage(Base):
    """One line of the conversation during the handoff, stored as written.

    Private messages are agents' notes and are never shown to the customer.
    The console masks personal numbers when displaying (``bot.privacy.mask_text``).
    """

    __tablename__ = "handoff_messages"

    id: Mapped[int] = Column(Integer, primary_key=True)
    case_id: Mapped[int] = Column(
        Integer, ForeignKey("handoff_cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    author: Mapped[MessageAuthor] = Column(_stored_as_value(MessageAuthor), nullable=False)
    agent_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("agents.id"))
    text: Mapped[str] = Column(Text, nullable=False)
    private: Mapped[bool] = Column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)

    case: Mapped[Case] = relationship(Case, back_populates="messages")
    agent: Mapped[Optional[Agent]] = relationship(Agent)


class CaseEvent(Base):
    """One step of a case's history; every change of a case leaves one."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = Column(Integer, primary_key=True)
    case_id: Mapped[int] = Column(
        Integer, ForeignKey("handoff_cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[CaseEventKind] = Column(_stored_as_value(CaseEventKind), nullable=False)
    # Who did it; None for the customer, the bot or the SLA watcher.
    actor_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("agents.id"))
    from_agent_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("agents.id"))
    to_agent_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("agents.id"))
    note: Mapped[str] = Column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)

    case: Mapped[Case] = relationship(Case, back_populates="events")
    actor: Mapped[Optional[Agent]] = relationship(Agent, foreign_keys=[actor_id])
    from_agent: Mapped[Optional[Agent]] = relationship(Agent, foreign_keys=[from_agent_id])
    to_agent: Mapped[Optional[Agent]] = relationship(Agent, foreign_keys=[to_agent_id])

    def __repr__(self) -> str:
        return f"<CaseEvent {self.kind.value} case={self.case_id}>"


class AuditEntry(Base):
    """Who did what in the console, views included: the compliance trail.

    ``agent_id`` is empty for a failed login with an unknown username (the
    name tried is in ``detail``).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_agent_id_at", "agent_id", "at"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    agent_id: Mapped[Optional[int]] = Column(Integer, ForeignKey("agents.id"))
    action: Mapped[AuditAction] = Column(_stored_as_value(AuditAction), nullable=False)
    case_id: Mapped[Optional[int]] = Column(
        Integer, ForeignKey("handoff_cases.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str] = Column(Text, nullable=False, default="")
    at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)

    agent: Mapped[Optional[Agent]] = relationship(Agent)

    def __repr__(self) -> str:
        return f"<AuditEntry {self.action.value} agent={self.agent_id} case={self.case_id}>"


class CannedReply(Base):
    """A ready phrase for agents; ``{name}`` stands for the agent's display name."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = Column(Integer, primary_key=True)
    title: Mapped[str] = Column(String(50), nullable=False)
    text: Mapped[str] = Column(Text, nullable=False)
    active: Mapped[bool] = Column(Boolean, nullable=False, default=True)

    def for_agent(self, agent: Agent) -> str:
        """The text with the agent's name filled in (no ``str.format``: other
        braces in the text stay as they are)."""
        return self.text.replace("{name}", agent.display_name)

    def __repr__(self) -> str:
        return f"<CannedReply {self.title}>"
