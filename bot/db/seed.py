"""Demo data for an empty database, and the demo applications to try.

    python -m bot.db.seed            # migrate, then seed if the database is empty
    python -m bot.db.seed --list     # the same, then print demo application
                                     # numbers with what is needed to query them

Everything is fictitious (city 云溪市, people, phone and ID numbers, e-mail at
example.com). The data are deterministic for a given ``now`` (fixed random
seed) and dated relative to it, so the demo looks fresh whenever it is seeded;
only booking codes are random. Seeding goes through the repositories, so the
demo obeys the same rules as production (status transitions, slot capacity).
Appointment slots are created lazily; the seed only fills a few to show a
fully booked time.
"""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Dict, List, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from bot.db.engine import unit_of_work
from bot.db.migrate import upgrade
from bot.db.models import (
    Application,
    ApplicationStatus,
    Branch,
    BranchKind,
    Customer,
    NotificationChannel,
    ServiceType,
    utcnow,
)
from bot.db.repositories import (
    ApplicationRepository,
    AppointmentRepository,
    AppointmentSlotRepository,
    local_zone,
)
from bot.handoff.seed import seed_handoff
from bot.privacy import id_card_check_character

RANDOM_SEED = 20261128
DEMO_CONVERSATION = "seed-demo"

S = ApplicationStatus

# code, name, minutes, description, materials asked for in 补充材料
SERVICE_TYPES = [
    ("account_opening", "开户", 30, "个人结算账户开立，请携带本人有效身份证件。", "身份证复印件、居住证明"),
    ("personal_loan", "个人贷款咨询", 45, "个人消费贷款、住房贷款的申请条件与办理流程咨询。", "近三个月收入证明、身份证复印件"),
    ("wealth_management", "理财咨询", 45, "理财产品介绍与风险承受能力评估。", "风险承受能力评估问卷、身份证复印件"),
    ("credit_card", "信用卡业务", 30, "信用卡申请、额度调整与激活。", "工作证明、近六个月银行流水"),
    ("account_change", "账户信息变更", 20, "预留手机号、地址等账户信息的变更。", "新手机号实名认证证明、身份证复印件"),
    ("large_cash_withdrawal", "大额取现预约", 20, "大额现金支取需提前预约，以便网点备款。", "取现用途说明"),
    ("loss_report", "挂失补办", 30, "银行卡、存折挂失与补办。", "身份证原件及复印件"),
    ("corporate_business", "企业业务咨询", 60, "企业开户、结算与融资业务咨询。", "营业执照副本复印件、法定代表人身份证复印件"),
]

# code, name, kind, address, places per appointment slot
BRANCHES = [
    ("yunxi-main", "云溪市分行营业部", BranchKind.BRANCH, "云溪市中山路88号", 3),
    ("yunxi-binjiang", "滨江支行", BranchKind.BRANCH, "云溪市滨江大道166号", 2),
    ("yunxi-gaoxin", "高新区支行", BranchKind.BRANCH, "云溪市科技园路20号", 2),
    ("yunxi-laocheng", "老城支行", BranchKind.BRANCH, "云溪市解放路45号", 2),
    ("yunxi-konggang", "空港新区支行", BranchKind.BRANCH, "云溪市空港大道9号", 1),
    ("video", "视频客服", BranchKind.VIDEO, None, 4),
]

CUSTOMER_NAMES = [
    "王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵敏", "黄志强", "周婷", "吴磊",
    "徐丽娟", "孙浩", "胡雪梅", "朱振华", "高明", "林晓燕", "何俊杰", "郭佳", "马海涛", "罗晶",
    "梁思远", "宋雨桐", "郑凯", "谢雅琴", "韩冬", "唐悦", "冯志刚", "于倩", "董文博", "欧阳娜",
]
MOBILE_PREFIXES = ["135", "138", "139", "150", "151", "158", "177", "186", "187", "199"]
ID_REGION_CODES = ["330102", "330105", "330106", "330108", "330110"]

# Where each demo application's history leads, and how many of each.
HISTORIES = [
    ((), 6),
    ((S.UNDER_REVIEW,), 7),
    ((S.UNDER_REVIEW, S.MATERIALS_REQUIRED), 6),
    ((S.UNDER_REVIEW, S.MATERIALS_REQUIRED, S.UNDER_REVIEW), 2),
    ((S.UNDER_REVIEW, S.APPROVED), 6),
    ((S.UNDER_REVIEW, S.RETURNED), 5),
    ((S.UNDER_REVIEW, S.APPROVED, S.COMPLETED), 6),
    ((S.UNDER_REVIEW, S.MATERIALS_REQUIRED, S.UNDER_REVIEW, S.APPROVED, S.COMPLETED), 2),
]
# One application per status with a fixed number (SQ202611200001-0006), so the
# README can list them: submitted on 2026-11-20 before opening, ahead of the
# generated ones, by the first six customers.
SHOWCASE_DAY = datetime(2026, 11, 20, 8, 0)  # local time
SHOWCASE = [
    ((), "account_opening"),
    ((S.UNDER_REVIEW,), "personal_loan"),
    ((S.UNDER_REVIEW, S.MATERIALS_REQUIRED), "credit_card"),
    ((S.UNDER_REVIEW, S.APPROVED), "wealth_management"),
    ((S.UNDER_REVIEW, S.RETURNED), "account_change"),
    ((S.UNDER_REVIEW, S.APPROVED, S.COMPLETED), "loss_report"),
]
RECEIPT_NOTES = ["网点柜台受理", "手机银行提交，已受理", "网上银行提交，已受理", "客户经理代为提交，已受理"]
RETURN_NOTES = [
    "申请信息与证件信息不一致，请核对后重新提交",
    "暂不符合办理条件，详情请咨询网点",
    "所附材料无法识别，请重新提交清晰的材料",
]
STEP_NOTES = {
    S.APPROVED: "审核通过",
    S.COMPLETED: "业务已办结，结果已通知客户",
}


@dataclass(frozen=True)
class DemoApplication:
    """What a tester needs to query an application's status in the chat."""

    number: str
    status_label: str
    phone_last4: str
    service_name: str


def is_empty(session: Session) -> bool:
    return all(
        session.execute(select(model.id).limit(1)).first() is None
        for model in (Customer, ServiceType, Branch)
    )


def seed(session: Session, now: Optional[datetime] = None) -> bool:
    """Load the demo data into an empty database; True when it did.

    A database holding any customer, service type or branch is left alone,
    so running the seed again changes nothing."""
    if not is_empty(session):
        return False
    now = now or utcnow()
    rng = random.Random(RANDOM_SEED)
    service_types = _add_service_types(session)
    branches = _add_branches(session)
    customers = _add_customers(session, rng, now)
    _add_applications(session, rng, now, customers, service_types)
    _add_fully_booked_slots(session, now, customers, branches, service_types)
    seed_handoff(session, now)
    return True


def demo_applications(session: Session, per_status: int = 2) -> List[DemoApplication]:
    """The first ``per_status`` applications of every status, read back from the database."""
    applications = session.execute(
        select(Application)
        .options(joinedload(Application.customer), joinedload(Application.service_type))
        .order_by(Application.number)
    ).scalars()
    by_status: Dict[ApplicationStatus, List[Application]] = {s: [] for s in ApplicationStatus}
    for application in applications:
        by_status[application.status].append(application)
    return [
        DemoApplication(
            number=application.number,
            status_label=status.label,
            phone_last4=application.customer.phone[-4:],
            service_name=application.service_type.name,
        )
        for status, found in by_status.items()
        for application in found[:per_status]
    ]


def format_table(rows: Sequence[DemoApplication]) -> str:
    lines = ["申请编号\t状态\t手机尾号\t业务"]
    lines += [f"{r.number}\t{r.status_label}\t{r.phone_last4}\t{r.service_name}" for r in rows]
    return "\n".join(lines)


def _add_service_types(session: Session) -> Dict[str, ServiceType]:
    service_types = {
        code: ServiceType(
            code=code, name=name, duration_minutes=minutes, description=description, active=True
        )
        for code, name, minutes, description, _materials in SERVICE_TYPES
    }
    session.add_all(service_types.values())
    return service_types


def _add_branches(session: Session) -> List[Branch]:
    branches = [
        Branch(
            code=code, name=name, kind=kind, address=address, slot_capacity=capacity, active=True
        )
        for code, name, kind, address, capacity in BRANCHES
    ]
    session.add_all(branches)
    return branches


def _add_customers(session: Session, rng: random.Random, now: datetime) -> List[Customer]:
    phones = set()
    customers = []
    for index, name in enumerate(CUSTOMER_NAMES, start=1):
        phone = _new_phone(rng, phones)
        customer_no = f"C{index:06d}"
        customers.append(
            Customer(
                customer_no=customer_no,
                name=name,
                phone=phone,
                id_card_number=_id_card_number(rng),
                email=f"{customer_no.lower()}@example.com" if rng.random() < 0.6 else None,
                created_at=now - timedelta(days=rng.randint(60, 1500)),
            )
        )
    session.add_all(customers)
    session.flush()
    return customers


def _new_phone(rng: random.Random, taken: set) -> str:
    while True:
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if phone not in taken:
            taken.add(phone)
            return phone


def _id_card_number(rng: random.Random) -> str:
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(42 * 365))
    first_17 = f"{rng.choice(ID_REGION_CODES)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first_17 + id_card_check_character(first_17)


@dataclass(frozen=True)
class _Plan:
    submitted_at: datetime
    customer: Customer
    service_type: ServiceType
    channel: NotificationChannel
    steps: Sequence[ApplicationStatus]
    gaps: Sequence[timedelta]
    receipt_note: str
    return_note: str


def _add_applications(
    session: Session,
    rng: random.Random,
    now: datetime,
    customers: List[Customer],
    service_types: Dict[str, ServiceType],
) -> None:
    """Plan every history first, then submit the showcase and the rest in time
    order so that the numbers' daily sequence follows the submission times."""
    plans = _showcase(customers, service_types) + sorted(
        (
            _plan(rng, now, steps, customers, service_types)
            for steps, count in HISTORIES
            for _ in range(count)
        ),
        key=lambda plan: plan.submitted_at,
    )
    materials = {code: needed for code, _name, _minutes, _description, needed in SERVICE_TYPES}
    applications = ApplicationRepository(session)
    for plan in plans:
        application = applications.submit(
            plan.customer,
            plan.service_type,
            at=plan.submitted_at,
            notification_channel=plan.channel,
            note=plan.receipt_note,
        )
        at = plan.submitted_at
        for step, gap in zip(plan.steps, plan.gaps):
            at += gap
            needed = materials[plan.service_type.code] if step is S.MATERIALS_REQUIRED else None
            applications.change_status(
                application,
                step,
                _note(application.status, step, needed, plan.return_note),
                at,
                missing_materials=needed,
            )


def _showcase(customers: List[Customer], service_types: Dict[str, ServiceType]) -> List[_Plan]:
    return [
        _Plan(
            submitted_at=SHOWCASE_DAY.replace(tzinfo=local_zone()) + timedelta(minutes=5 * index),
            customer=customers[index],
            service_type=service_types[code],
            channel=NotificationChannel.SMS,
            steps=steps,
            gaps=[timedelta(days=1, hours=2)] * len(steps),
            receipt_note=RECEIPT_NOTES[0],
            return_note=RETURN_NOTES[0],
        )
        for index, (steps, code) in enumerate(SHOWCASE)
    ]


def _plan(
    rng: random.Random,
    now: datetime,
    steps: Sequence[ApplicationStatus],
    customers: List[Customer],
    service_types: Dict[str, ServiceType],
) -> _Plan:
    """Steps a few hours to three days apart, all of them at least 2 hours ago."""
    gaps = [timedelta(hours=rng.randint(3, 72), minutes=rng.randint(0, 59)) for _ in steps]
    latest_submission = now - sum(gaps, timedelta()) - timedelta(hours=rng.randint(2, 24 * 10))
    customer = rng.choice(customers)
    channels = list(NotificationChannel) if customer.email else [
        NotificationChannel.SMS,
        NotificationChannel.APP_PUSH,
    ]
    return _Plan(
        submitted_at=_office_hours_before(latest_submission, rng),
        customer=customer,
        service_type=rng.choice(list(service_types.values())),
        channel=rng.choice(channels),
        steps=steps,
        gaps=gaps,
        receipt_note=rng.choice(RECEIPT_NOTES),
        return_note=rng.choice(RETURN_NOTES),
    )


def _note(
    old: ApplicationStatus, new: ApplicationStatus, needed: Optional[str], return_note: str
) -> str:
    if new is S.UNDER_REVIEW:
        return "已收到补充材料，重新进入审核" if old is S.MATERIALS_REQUIRED else "材料齐全，进入审核"
    if new is S.MATERIALS_REQUIRED:
        return f"请补充：{needed}"
    if new is S.RETURNED:
        return return_note
    return STEP_NOTES[new]


def _office_hours_before(moment: datetime, rng: random.Random) -> datetime:
    """A local time between 9:00 and 16:59 on the day of ``moment``, or the day
    before when that would be later than ``moment``."""
    zone = local_zone()
    local = moment.astimezone(zone)
    chosen = datetime.combine(local.date(), time(9), tzinfo=zone) + timedelta(
        minutes=rng.randrange(8 * 60)
    )
    return chosen if chosen <= moment else chosen - timedelta(days=1)


def _add_fully_booked_slots(
    session: Session,
    now: datetime,
    customers: List[Customer],
    branches: List[Branch],
    service_types: Dict[str, ServiceType],
) -> None:
    """10:00 on the next weekday is fully booked at the main branch, so the
    demo can show "已约满" and the offer of other times."""
    branch = branches[0]
    day = now.astimezone(local_zone()).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    slot = AppointmentSlotRepository(session).get_or_create(
        branch, datetime.combine(day, time(10), tzinfo=local_zone())
    )
    appointments = AppointmentRepository(session)
    for customer in customers[: slot.capacity]:
        appointments.book(
            slot=slot,
            service_type=service_types["account_opening"],
            contact_phone=customer.phone,
            conversation_id=DEMO_CONVERSATION,
            channel="rest",
            at=now,
            customer=customer,
        )


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or var/app.db)")
    parser.add_argument("--list", action="store_true", help="print demo application numbers")
    args = parser.parse_args(argv)
    upgrade(args.url)
    with unit_of_work(args.url) as session:
        seeded = seed(session)
    print("demo data loaded" if seeded else "database not empty: nothing seeded")
    if args.list:
        with unit_of_work(args.url) as session:
            print(format_table(demo_applications(session)))


if __name__ == "__main__":
    main()
