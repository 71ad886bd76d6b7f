"""Queries and domain operations on the application database.

Repositories work on the session they are given and never commit: the
caller owns one unit of work per action or request
(``with unit_of_work() as session``). They flush, so that ids, codes and
constraint violations appear at once.

A :class:`DomainError` leaves the database and the session as they were: the
caller may catch it (e.g. ``SlotFull``: offer other times) and go on in the
same unit of work. Any other exception should end the unit of work.

Check-and-change operations (taking a place in a slot, cancelling, moving an
appointment, changing an application's status) are single conditional
UPDATEs whose WHERE clause the database re-checks under its row lock, so two
racing requests can never both succeed, on SQLite and PostgreSQL alike and
whatever the isolation level.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Generic, List, Optional, Type, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Update

from bot.db.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
    Branch,
    BranchKind,
    Customer,
    NotificationChannel,
    ServiceType,
    VerificationAttempt,
    application_number,
    new_appointment_code,
    normalise_application_number,
    normalise_appointment_code,
)
from bot.settings import get_settings

# Slots are created lazily: a time nobody has looked at has no row and is
# entirely free. A new slot lasts this long unless the caller says otherwise,
# and takes its branch's ``slot_capacity`` customers.
DEFAULT_SLOT_LENGTH = timedelta(minutes=30)

_CODE_ATTEMPTS = 10
_VERIFICATION_NUMBER_LENGTH = VerificationAttempt.__table__.c.application_number.type.length


class DomainError(Exception):
    """A request the rules of the data refuse; nothing was changed."""


class IllegalStatusTransition(DomainError):
    def __init__(self, application: Application, new_status: ApplicationStatus):
        self.application_number = application.number
        self.from_status = application.status
        self.to_status = new_status
        allowed = ", ".join(sorted(s.value for s in self.from_status.next_statuses)) or "none"
        super().__init__(
            f"application {self.application_number} cannot go from "
            f"{self.from_status.value} ({self.from_status.label}) to "
            f"{new_status.value} ({new_status.label}); allowed: {allowed}"
        )


class ConcurrentChange(DomainError):
    """The row changed between reading it and changing it: reload and retry."""


class SlotFull(DomainError):
    def __init__(self, slot: AppointmentSlot):
        self.slot_id = slot.id
        super().__init__(
            f"appointment slot {slot.id} ({slot.starts_at:%Y-%m-%d %H:%M} UTC) is full"
        )


class AppointmentNotActive(DomainError):
    def __init__(self, appointment: Appointment):
        self.code = appointment.code
        super().__init__(f"appointment {appointment.code} is no longer booked as it was")


def local_zone() -> ZoneInfo:
    """The customers' zone: application numbers carry the local submission day."""
    return ZoneInfo(get_settings().timezone)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime")
    return moment


M = TypeVar("M")


class _Repository:
    def __init__(self, session: Session):
        self.session = session

    def _update_if(self, statement: Update) -> bool:
        """Run a conditional UPDATE; True when it matched its (single) row."""
        result = self.session.execute(
            statement.execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


class CustomerRepository(_Repository):
    def by_customer_no(self, customer_no: str) -> Optional[Customer]:
        return self.session.execute(
            select(Customer).where(Customer.customer_no == customer_no)
        ).scalars().first()

    def by_phone(self, phone: str) -> Optional[Customer]:
        return self.session.execute(
            select(Customer).where(Customer.phone == phone).order_by(Customer.id)
        ).scalars().first()


class _CatalogueRepository(_Repository, Generic[M]):
    """Reference data addressed by a stable code."""

    model: Type[M]

    def by_code(self, code: str) -> Optional[M]:
        return self.session.execute(
            select(self.model).where(self.model.code == code)
        ).scalars().first()

    def by_name(self, name: str) -> Optional[M]:
        return self.session.execute(
            select(self.model).where(self.model.name == name).order_by(self.model.id)
        ).scalars().first()

    def _active(self, *criteria) -> List[M]:
        statement = select(self.model).where(self.model.active.is_(True), *criteria)
        return list(self.session.execute(statement.order_by(self.model.id)).scalars())


class ServiceTypeRepository(_CatalogueRepository[ServiceType]):
    model = ServiceType

    def active(self) -> List[ServiceType]:
        return self._active()


class BranchRepository(_CatalogueRepository[Branch]):
    model = Branch

    def active(self, kind: Optional[BranchKind] = None) -> List[Branch]:
        return self._active(*([Branch.kind == kind] if kind is not None else []))


class ApplicationRepository(_Repository):
    def by_number(self, number: str) -> Optional[Application]:
        """The application with its customer, service type and history, or None.
        ``number`` may be as typed: it is normalised first."""
        return self.session.execute(
            select(Application)
            .where(Application.number == normalise_application_number(number))
            .options(
                joinedload(Application.customer),
                joinedload(Application.service_type),
                selectinload(Application.history),
            )
        ).scalars().first()

    def for_customer(self, customer: Customer) -> List[Application]:
        """Newest first."""
        return list(
            self.session.execute(
                select(Application)
                .where(Application.customer_id == customer.id)
                .options(joinedload(Application.service_type))
                .order_by(Application.submitted_at.desc(), Application.id.desc())
            ).scalars()
        )

    def submit(
        self,
        customer: Customer,
        service_type: ServiceType,
        *,
        at: datetime,
        notification_channel: NotificationChannel,
        note: str = "",
        zone: Optional[tzinfo] = None,
    ) -> Application:
        """A new application in status 受理, numbered after its local submission
        day; its history starts with that receipt. Two submissions racing for
        the same number make the second unit of work fail on the unique number."""
        _require_aware(at)
        application = Application(
            number=self._next_number(at.astimezone(zone or local_zone()).date()),
            customer=customer,
            service_type=service_type,
            status=ApplicationStatus.RECEIVED,
            submitted_at=at,
            updated_at=at,
            notification_channel=notification_channel,
        )
        application.history.append(
            ApplicationStatusChange(
                from_status=None, to_status=ApplicationStatus.RECEIVED, changed_at=at, note=note
            )
        )
        self.session.add(application)
        self.session.flush()
        return application

    def change_status(
        self,
        application: Application,
        new_status: ApplicationStatus,
        note: str,
        at: datetime,
        *,
        missing_materials: Optional[str] = None,
    ) -> ApplicationStatusChange:
        """Move the application along an allowed transition and record it.

        ``missing_materials`` is required when the new status is 补充材料 and
        cleared on any other move. Raises IllegalStatusTransition for a move
        the rules forbid, ConcurrentChange when someone else moved it first.
        """
        _require_aware(at)
        if not application.status.can_become(new_status):
            raise IllegalStatusTransition(application, new_status)
        if new_status is ApplicationStatus.MATERIALS_REQUIRED:
            if not (missing_materials and missing_materials.strip()):
                raise ValueError("say which materials are missing")
        else:
            missing_materials = None
        old_status = application.status
        values = dict(status=new_status, updated_at=at, missing_materials=missing_materials)
        if not self._update_if(
            update(Application)
            .where(Application.id == application.id, Application.status == old_status)
            .values(**values)
        ):
            raise ConcurrentChange(f"application {application.number} changed meanwhile")
        for key, value in values.items():
            set_committed_value(application, key, value)
        change = ApplicationStatusChange(
            from_status=old_status, to_status=new_status, changed_at=at, note=note
        )
        application.history.append(change)
        self.session.flush()
        return change

    def _next_number(self, day: date) -> str:
        prefix = application_number(day, 1)[:-4]
        last = self.session.execute(
            select(func.max(Application.number)).where(Application.number.like(f"{prefix}%"))
        ).scalar()
        return application_number(day, int(last[-4:]) + 1 if last else 1)


class VerificationAttemptRepository(_Repository):
    """Identity checks before an application's status is disclosed.

    The lock policy (e.g. three failures within 15 minutes, counted per
    conversation and per application number) belongs to the caller:

        since = now - timedelta(minutes=15)
        locked = max(attempts.count_recent_failures(since=since, conversation_id=sender),
                     attempts.count_recent_failures(since=since, application_number=number)) >= 3
    """

    def record(
        self, *, conversation_id: str, application_number: str, succeeded: bool, at: datetime
    ) -> VerificationAttempt:
        attempt = VerificationAttempt(
            conversation_id=conversation_id,
            application_number=self._key(application_number),
            succeeded=succeeded,
            attempted_at=_require_aware(at),
        )
        self.session.add(attempt)
        self.session.flush()
        return attempt

    def count_recent_failures(
        self,
        *,
        since: datetime,
        application_number: Optional[str] = None,
        conversation_id: Optional[str] = None,
    ) -> int:
        """Failed attempts at or after ``since`` for exactly one of the two keys."""
        if (application_number is None) == (conversation_id is None):
            raise ValueError("give exactly one of application_number and conversation_id")
        key = (
            VerificationAttempt.application_number == self._key(application_number)
            if application_number is not None
            else VerificationAttempt.conversation_id == conversation_id
        )
        return self.session.execute(
            select(func.count())
            .select_from(VerificationAttempt)
            .where(
                key,
                VerificationAttempt.succeeded.is_(False),
                VerificationAttempt.attempted_at >= _require_aware(since),
            )
        ).scalar_one()

    @staticmethod
    def _key(application_number: str) -> str:
        return normalise_application_number(application_number)[:_VERIFICATION_NUMBER_LENGTH]


class AppointmentSlotRepository(_Repository):
    def get_or_create(
        self,
        branch: Branch,
        starts_at: datetime,
        *,
        length: timedelta = DEFAULT_SLOT_LENGTH,
        capacity: Optional[int] = None,
    ) -> AppointmentSlot:
        """The slot of ``branch`` starting at ``starts_at``, created on first use
        with ``capacity`` (default: the branch's ``slot_capacity``). An existing
        slot keeps its own length and capacity. Safe when two requests create
        the same slot at once (INSERT … ON CONFLICT DO NOTHING)."""
        _require_aware(starts_at)
        slot = self._find(branch.id, starts_at)
        if slot is None:
            self._insert_if_absent(
                branch_id=branch.id,
                starts_at=starts_at,
                ends_at=starts_at + length,
                capacity=capacity if capacity is not None else branch.slot_capacity,
                booked=0,
            )
            slot = self._find(branch.id, starts_at)
        return slot

    def free_between(self, branch: Branch, start: datetime, end: datetime) -> List[AppointmentSlot]:
        """Existing slots starting in [start, end) with a place left. Times
        without a slot row are free too: combine with the opening hours."""
        return self._between(branch, start, end, AppointmentSlot.booked < AppointmentSlot.capacity)

    def full_between(self, branch: Branch, start: datetime, end: datetime) -> List[AppointmentSlot]:
        """Slots starting in [start, end) with no place left: the times to hide."""
        return self._between(branch, start, end, AppointmentSlot.booked >= AppointmentSlot.capacity)

    def _between(
        self, branch: Branch, start: datetime, end: datetime, *criteria
    ) -> List[AppointmentSlot]:
        return list(
            self.session.execute(
                select(AppointmentSlot)
                .where(
                    AppointmentSlot.branch_id == branch.id,
                    AppointmentSlot.starts_at >= _require_aware(start),
                    AppointmentSlot.starts_at < _require_aware(end),
                    *criteria,
                )
                .order_by(AppointmentSlot.starts_at)
            ).scalars()
        )

    def _find(self, branch_id: int, starts_at: datetime) -> Optional[AppointmentSlot]:
        return self.session.execute(
            select(AppointmentSlot).where(
                AppointmentSlot.branch_id == branch_id, AppointmentSlot.starts_at == starts_at
            )
        ).scalars().first()

    def _insert_if_absent(self, **values) -> None:
        dialect = self.session.get_bind().dialect.name
        insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect]
        self.session.execute(
            insert(AppointmentSlot.__table__)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["branch_id", "starts_at"])
        )


class AppointmentRepository(_Repository):
    def by_code(self, code: str) -> Optional[Appointment]:
        """The appointment with its slot, branch and service type; ``code`` may
        be as typed ("yy ab3c4d")."""
        return self.session.execute(
            select(Appointment)
            .where(Appointment.code == normalise_appointment_code(code))
            .options(
                joinedload(Appointment.slot).joinedload(AppointmentSlot.branch),
                joinedload(Appointment.service_type),
            )
        ).scalars().first()

    def active_future(
        self,
        *,
        now: datetime,
        conversation_id: Optional[str] = None,
        customer: Optional[Customer] = None,
    ) -> List[Appointment]:
        """Booked appointments starting after ``now``, soonest first, made in
        this conversation or (when given) for this customer."""
        owners = []
        if conversation_id is not None:
            owners.append(Appointment.conversation_id == conversation_id)
        if customer is not None:
            owners.append(Appointment.customer_id == customer.id)
        if not owners:
            raise ValueError("give conversation_id, customer or both")
        return list(
            self.session.execute(
                select(Appointment)
                .join(Appointment.slot)
                .where(
                    or_(*owners),
                    Appointment.status == AppointmentStatus.BOOKED,
                    AppointmentSlot.starts_at > _require_aware(now),
                )
                .options(
                    joinedload(Appointment.slot).joinedload(AppointmentSlot.branch),
                    joinedload(Appointment.service_type),
                )
                .order_by(AppointmentSlot.starts_at, Appointment.id)
            ).scalars()
        )

    def book(
        self,
        *,
        slot: AppointmentSlot,
        service_type: ServiceType,
        contact_phone: str,
        conversation_id: str,
        channel: str,
        at: datetime,
        customer: Optional[Customer] = None,
    ) -> Appointment:
        """Take a place in ``slot`` and record the appointment (status booked).
        Raises SlotFull, with nothing changed, when the slot has no place left."""
        _require_aware(at)
        appointment = Appointment(  # built first: invalid input fails before any change
            code=self._unused_code(),
            customer_id=customer.id if customer is not None else None,
            contact_phone=contact_phone,
            conversation_id=conversation_id,
            channel=channel,
            service_type_id=service_type.id,
            slot_id=slot.id,
            status=AppointmentStatus.BOOKED,
            created_at=at,
            updated_at=at,
        )
        self._take_place(slot)
        self.session.add(appointment)
        self.session.flush()
        return appointment

    def reschedule(
        self, appointment: Appointment, new_slot: AppointmentSlot, *, at: datetime
    ) -> Appointment:
        """Move a booked appointment to ``new_slot``: its place there is taken
        and its old place freed in the caller's unit of work. Raises SlotFull
        or AppointmentNotActive with nothing changed. The caller moves the
        reminder (``reminder_job``)."""
        _require_aware(at)
        old_slot_id = appointment.slot_id
        if new_slot.id == old_slot_id:
            return appointment
        self._take_place(new_slot)
        moved = self._update_if(
            update(Appointment)
            .where(
                Appointment.id == appointment.id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.slot_id == old_slot_id,
            )
            .values(slot_id=new_slot.id, updated_at=at)
        )
        if not moved:
            self._release_place(new_slot.id)
            raise AppointmentNotActive(appointment)
        self._release_place(old_slot_id)
        set_committed_value(appointment, "slot_id", new_slot.id)
        set_committed_value(appointment, "slot", new_slot)
        set_committed_value(appointment, "updated_at", at)
        return appointment

    def cancel(self, appointment: Appointment, *, at: datetime) -> Appointment:
        """Cancel a booked appointment and free its place. Raises
        AppointmentNotActive, with nothing changed, when it is already cancelled
        (so a double click cannot free two places)."""
        _require_aware(at)
        cancelled = self._update_if(
            update(Appointment)
            .where(Appointment.id == appointment.id, Appointment.status == AppointmentStatus.BOOKED)
            .values(status=AppointmentStatus.CANCELLED, updated_at=at)
        )
        if not cancelled:
            raise AppointmentNotActive(appointment)
        self._release_place(appointment.slot_id)
        set_committed_value(appointment, "status", AppointmentStatus.CANCELLED)
        set_committed_value(appointment, "updated_at", at)
        return appointment

    def _take_place(self, slot: AppointmentSlot) -> None:
        taken = self._update_if(
            update(AppointmentSlot)
            .where(AppointmentSlot.id == slot.id, AppointmentSlot.booked < AppointmentSlot.capacity)
            .values(booked=AppointmentSlot.booked + 1)
        )
        self._reload_counter(slot.id)
        if not taken:
            raise SlotFull(slot)

    def _release_place(self, slot_id: int) -> None:
        released = self._update_if(
            update(AppointmentSlot)
            .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked > 0)
            .values(booked=AppointmentSlot.booked - 1)
        )
        if not released:
            raise RuntimeError(f"appointment slot {slot_id} has no booked place to free")
        self._reload_counter(slot_id)

    def _reload_counter(self, slot_id: int) -> None:
        """The UPDATEs above bypass the ORM: refresh a slot this session holds."""
        slot = self.session.identity_map.get(self.session.identity_key(AppointmentSlot, slot_id))
        if slot is not None:
            self.session.refresh(slot, ["booked"])

    def _unused_code(self) -> str:
        """A fresh booking code. Two bookings drawing the same code at the same
        instant (odds ~10^-9) make the second unit of work fail on the unique
        constraint rather than share a code."""
        for _ in range(_CODE_ATTEMPTS):
            code = new_appointment_code()
            taken = self.session.execute(
                select(Appointment.id).where(Appointment.code == code)
            ).first()
            if taken is None:
                return code
        raise RuntimeError("no unused appointment code found")
