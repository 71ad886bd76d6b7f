"""Tables of the application database and the rules that belong to the data.

Time: every timestamp is stored in UTC and read back as an aware UTC datetime
on SQLite and PostgreSQL alike (:class:`UTCDateTime`); naive datetimes are
refused rather than guessed. Convert to the customer's zone
(``settings.timezone``) only to show a time or to read one the customer typed.

Status-like columns hold the English value of a ``str`` enum; the Chinese label
shown to customers is carried by the enum member (``status.label``), never
by a column name.
"""
from __future__ import annotations

import enum
import re
import secrets
import unicodedata
from datetime import date, datetime, timezone
from typing import FrozenSet, List, Optional, Type

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declarative_base, relationship, validates
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names: migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
APPLICATION_NUMBER = re.compile(r"SQ\d{12}")
# Booking codes are read aloud and typed from SMS: no 0/O, 1/I/L look-alikes.
APPOINTMENT_CODE_PREFIX = "YY"
APPOINTMENT_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
APPOINTMENT_CODE_LENGTH = 6


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """An aware datetime stored in UTC, returned as aware UTC on every backend.

    PostgreSQL keeps the instant (``timestamptz``) but answers in the session's
    zone; SQLite keeps no zone at all. Converting on the way in and out makes
    comparisons and arithmetic identical on both.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class LabelledEnum(str, enum.Enum):
    """A string enum whose members also carry the Chinese label customers see."""

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class ApplicationStatus(LabelledEnum):
    RECEIVED = ("received", "受理")
    UNDER_REVIEW = ("under_review", "审核中")
    APPROVED = ("approved", "已批准")
    RETURNED = ("returned", "已退回")
    MATERIALS_REQUIRED = ("materials_required", "补充材料")
    COMPLETED = ("completed", "已完成")

    @property
    def next_statuses(self) -> FrozenSet["ApplicationStatus"]:
        return _NEXT_STATUSES[self]

    def can_become(self, other: "ApplicationStatus") -> bool:
        return other in self.next_statuses


_NEXT_STATUSES = {
    ApplicationStatus.RECEIVED: frozenset({ApplicationStatus.UNDER_REVIEW}),
    ApplicationStatus.UNDER_REVIEW: frozenset(
        {
            ApplicationStatus.APPROVED,
            ApplicationStatus.RETURNED,
            ApplicationStatus.MATERIALS_REQUIRED,
        }
    ),
    ApplicationStatus.MATERIALS_REQUIRED: frozenset({ApplicationStatus.UNDER_REVIEW}),
    ApplicationStatus.APPROVED: frozenset({ApplicationStatus.COMPLETED}),
    ApplicationStatus.RETURNED: frozenset(),
    ApplicationStatus.COMPLETED: frozenset(),
}


class NotificationChannel(LabelledEnum):
    SMS = ("sms", "短信")
    EMAIL = ("email", "邮件")
    APP_PUSH = ("app_push", "APP推送")


class BranchKind(LabelledEnum):
    BRANCH = ("branch", "网点")
    VIDEO = ("video", "视频客服")


class AppointmentStatus(LabelledEnum):
    BOOKED = ("booked", "已预约")
    CANCELLED = ("cancelled", "已取消")


def _stored_as_value(enum_class: Type[LabelledEnum]) -> Enum:
    """VARCHAR(32) holding the member's value (not its name), no native enum."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def _require_mobile(value: str) -> str:
    if not MAINLAND_MOBILE.fullmatch(value or ""):
        raise ValueError(f"not an 11-digit mainland mobile number: {value!r}")
    return value


def normalise_application_number(text: str) -> str:
    """What a customer typed, in stored form: half-width, upper-case, no spaces
    or dashes ("sq 2026-1128-0001", "ＳＱ２０２６１１２８０００１" → "SQ202611280001").
    The result is not necessarily a valid number (see APPLICATION_NUMBER)."""
    text = unicodedata.normalize("NFKC", text).upper()
    return re.sub(r"[\s\-_—–]+", "", text)


def application_number(day: date, sequence: int) -> str:
    """``SQ`` + the submission day (YYYYMMDD, customer's zone) + 4 digits."""
    if not 1 <= sequence <= 9999:
        raise ValueError(f"application sequence out of range: {sequence}")
    return f"SQ{day:%Y%m%d}{sequence:04d}"


def new_appointment_code() -> str:
    """``YY`` + 6 unambiguous characters: ~8·10^8 codes, unguessable in practice."""
    return APPOINTMENT_CODE_PREFIX + "".join(
        secrets.choice(APPOINTMENT_CODE_ALPHABET) for _ in range(APPOINTMENT_CODE_LENGTH)
    )


def normalise_appointment_code(text: str) -> str:
    """Half-width, upper-case, without spaces or dashes ("yy ab3-c4d" → "YYAB3C4D")."""
    return normalise_application_number(text)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = Column(Integer, primary_key=True)
    customer_no: Mapped[str] = Column(String(20), nullable=False, unique=True)
    name: Mapped[str] = Column(String(50), nullable=False)
    phone: Mapped[str] = Column(String(11), nullable=False, index=True)
    id_card_number: Mapped[str] = Column(String(18), nullable=False)
    email: Mapped[Optional[str]] = Column(String(254))
    created_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False, default=utcnow)

    applications: Mapped[List["Application"]] = relationship(
        "Application", back_populates="customer", order_by="Application.submitted_at"
    )

    @validates("phone")
    def _validate_phone(self, _key: str, value: str) -> str:
        return _require_mobile(value)

    def __repr__(self) -> str:  # no personal data in logs
        return f"<Customer {self.customer_no}>"


class ServiceType(Base):
    __tablename__ = "service_types"

    id: Mapped[int] = Column(Integer, primary_key=True)
    code: Mapped[str] = Column(String(40), nullable=False, unique=True)
    name: Mapped[str] = Column(String(50), nullable=False)
    duration_minutes: Mapped[int] = Column(Integer, nullable=False)
    description: Mapped[str] = Column(Text, nullable=False, default="")
    active: Mapped[bool] = Column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return f"<ServiceType {self.code}>"


class Branch(Base):
    """A physical outlet, or the video channel (视频客服, no address).

    ``slot_capacity`` is how many customers one appointment slot of this
    branch can take (counters, or video agents): slots are created lazily with
    it the first time someone looks at or books that time.
    """

    __tablename__ = "branches"

    id: Mapped[int] = Column(Integer, primary_key=True)
    code: Mapped[str] = Column(String(40), nullable=False, unique=True)
    name: Mapped[str] = Column(String(100), nullable=False)
    kind: Mapped[BranchKind] = Column(_stored_as_value(BranchKind), nullable=False)
    address: Mapped[Optional[str]] = Column(String(200))
    slot_capacity: Mapped[int] = Column(Integer, nullable=False, default=2)
    active: Mapped[bool] = Column(Boolean, nullable=False, default=True)

    def __repr__(self) -> str:
        return f"<Branch {self.code}>"


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = Column(Integer, primary_key=True)
    number: Mapped[str] = Column(String(14), nullable=False, unique=True)
    customer_id: Mapped[int] = Column(
        Integer, ForeignKey("customers.id"), nullable=False, index=True
    )
    service_type_id: Mapped[int] = Column(
        Integer, ForeignKey("service_types.id"), nullable=False
    )
    status: Mapped[ApplicationStatus] = Column(
        _stored_as_value(ApplicationStatus), nullable=False, default=ApplicationStatus.RECEIVED
    )
    submitted_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    updated_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    notification_channel: Mapped[NotificationChannel] = Column(
        _stored_as_value(NotificationChannel), nullable=False
    )
    # What the customer must still provide while the status is 补充材料.
    missing_materials: Mapped[Optional[str]] = Column(Text)

    customer: Mapped[Customer] = relationship(Customer, back_populates="applications")
    service_type: Mapped[ServiceType] = relationship(ServiceType)
    history: Mapped[List["ApplicationStatusChange"]] = relationship(
        "ApplicationStatusChange",
        back_populates="application",
        order_by=lambda: (ApplicationStatusChange.changed_at, ApplicationStatusChange.id),
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<Application {self.number} {self.status.value}>"


class ApplicationStatusChange(Base):
    """One step of an application's history; the first has no ``from_status``."""

    __tablename__ = "application_status_changes"

    id: Mapped[int] = Column(Integer, primary_key=True)
    application_id: Mapped[int] = Column(
        Integer, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_status: Mapped[Optional[ApplicationStatus]] = Column(_stored_as_value(ApplicationStatus))
    to_status: Mapped[ApplicationStatus] = Column(
        _stored_as_value(ApplicationStatus), nullable=False
    )
    changed_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    note: Mapped[str] = Column(Text, nullable=False, default="")

    application: Mapped[Application] = relationship(Application, back_populates="history")


class VerificationAttempt(Base):
    """An identity check before an application's status is disclosed.

    The number is kept even when no such application exists, so failures
    count the same for real and invented numbers and cannot reveal which exist.
    """

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index(
            "ix_verification_attempts_application_number_attempted_at",
            "application_number",
            "attempted_at",
        ),
        Index(
            "ix_verification_attempts_conversation_id_attempted_at",
            "conversation_id",
            "attempted_at",
        ),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    conversation_id: Mapped[str] = Column(String(255), nullable=False)
    application_number: Mapped[str] = Column(String(64), nullable=False)
    succeeded: Mapped[bool] = Column(Boolean, nullable=False)
    attempted_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)


class AppointmentSlot(Base):
    """One bookable time at one branch; ``booked`` counts its active appointments.

    The CHECK constraints are a second line of defence behind the conditional
    UPDATE in the repository: no code path can overbook a slot.
    """

    __tablename__ = "appointment_slots"
    __table_args__ = (
        UniqueConstraint(
            "branch_id", "starts_at", name="uq_appointment_slots_branch_id_starts_at"
        ),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="booked_within_capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    branch_id: Mapped[int] = Column(Integer, ForeignKey("branches.id"), nullable=False)
    starts_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    ends_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    capacity: Mapped[int] = Column(Integer, nullable=False)
    booked: Mapped[int] = Column(Integer, nullable=False, default=0)

    branch: Mapped[Branch] = relationship(Branch)

    @property
    def free_places(self) -> int:
        return self.capacity - self.booked

    def __repr__(self) -> str:
        return (
            f"<AppointmentSlot {self.branch_id}@{self.starts_at:%Y-%m-%dT%H:%MZ} "
            f"{self.booked}/{self.capacity}>"
        )


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[int] = Column(Integer, primary_key=True)
    code: Mapped[str] = Column(String(8), nullable=False, unique=True)
    # Unset when someone books without being a verified customer.
    customer_id: Mapped[Optional[int]] = Column(
        Integer, ForeignKey("customers.id"), index=True
    )
    contact_phone: Mapped[str] = Column(String(11), nullable=False)
    conversation_id: Mapped[str] = Column(String(255), nullable=False, index=True)
    channel: Mapped[str] = Column(String(32), nullable=False)
    service_type_id: Mapped[int] = Column(
        Integer, ForeignKey("service_types.id"), nullable=False
    )
    slot_id: Mapped[int] = Column(
        Integer, ForeignKey("appointment_slots.id"), nullable=False, index=True
    )
    status: Mapped[AppointmentStatus] = Column(
        _stored_as_value(AppointmentStatus), nullable=False, default=AppointmentStatus.BOOKED
    )
    created_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    updated_at: Mapped[datetime] = Column(UTCDateTime(), nullable=False)
    # Name of the scheduled Rasa reminder, to cancel it with the appointment.
    reminder_job: Mapped[Optional[str]] = Column(String(255))

    customer: Mapped[Optional[Customer]] = relationship(Customer)
    service_type: Mapped[ServiceType] = relationship(ServiceType)
    slot: Mapped[AppointmentSlot] = relationship(AppointmentSlot)

    @validates("contact_phone")
    def _validate_contact_phone(self, _key: str, value: str) -> str:
        return _require_mobile(value)

    def __repr__(self) -> str:
        return f"<Appointment {self.code} {self.status.value}>"


# The human-handoff tables live with their feature but on this Base, so that
# migrations, the schema test and the test fixtures see one metadata. Imported
# last: bot.handoff.models builds on the names defined above.
from bot.handoff import models as _handoff_models  # noqa: E402,F401
