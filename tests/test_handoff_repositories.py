"""Handoff cases under first-contact responsibility, on SQLite and PostgreSQL:
opening and coming back, the queue, the race-free first claim, who may see
and do what, the end of a case, SLA marks, agents and the audit trail."""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.booking.calendar import ServiceCalendar
from bot.db.engine import session_factory, unit_of_work
from bot.db.seed import seed
from bot.handoff.models import (
    Agent,
    AgentRole,
    AuditAction,
    AuditEntry,
    CannedReply,
    Case,
    CaseEvent,
    CaseEventKind,
    CasePriority,
    CaseStage,
    CaseStatus,
    HandoffReason,
    MessageAuthor,
)
from bot.handoff.repositories import (
    AgentNotActive,
    AgentRepository,
    AuditRepository,
    CannedReplyRepository,
    CaseAlreadyClaimed,
    CaseFilter,
    CaseNotClosed,
    CaseRepository,
    NotAllowed,
    SatisfactionAlreadyRecorded,
    StageNotForward,
    WrongCaseStatus,
)
from bot.handoff.seed import (
    CANNED_REPLIES,
    DEMO_AGENTS,
    DEMO_WARNING,
    seed_handoff,
)
from bot.handoff.seed import main as seed_main
from bot.settings import get_settings
from bot.handoff.sla import SlaState
from db_fixtures import (  # noqa: F401  (fixtures are found by name)
    race,
    World,
    database_url,
    postgres_database_url,
    session,
    world,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 27 November 2026, 10:00 in Shanghai: a working day.
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
MINUTE = timedelta(minutes=1)
E = CaseEventKind
SUMMARY = {
    "intent": "ask_card_frozen",
    "question": "我的信用卡被冻结了，怎么办？",
    "answers": ["您可以拨打客服热线解冻。"],
    "slots": {"card_type": "信用卡"},
    "verified": False,
}


@pytest.fixture(scope="module")
def calendar() -> ServiceCalendar:
    return ServiceCalendar(timezone="Asia/Shanghai")


@dataclass
class Team:
    li: Agent  # agent1
    wang: Agent  # agent2
    zhao: Agent  # a third agent, for consultations
    chen: Agent  # supervisor
    gone: Agent  # deactivated


def _agent(
    username: str, name: str, role: AgentRole = AgentRole.AGENT, active: bool = True
) -> Agent:
    # Repository tests need no real hash; authentication tests make their own.
    return Agent(
        username=username, display_name=name, role=role, password_hash="x", active=active,
        created_at=T0,
    )


@pytest.fixture
def team(session) -> Team:
    created = Team(
        li=_agent("agent1", "李娜"),
        wang=_agent("agent2", "王强"),
        zhao=_agent("agent3", "赵敏"),
        chen=_agent("supervisor", "陈主管", AgentRole.SUPERVISOR),
        gone=_agent("former", "离职员工", active=False),
    )
    session.add_all(vars(created).values())
    session.commit()
    return created


def _open(
    session: Session,
    calendar: ServiceCalendar,
    conversation: str = "alice",
    *,
    reason: HandoffReason = HandoffReason.REQUEST_HUMAN,
    at: datetime = T0,
    **options,
) -> Case:
    return CaseRepository(session).open_case(
        conversation, "rest", reason, SUMMARY, at, calendar, **options
    )


def _claimed(
    session, calendar, agent: Agent, conversation: str = "alice", at: datetime = T0
) -> Case:
    case = _open(session, calendar, conversation, at=at)
    CaseRepository(session).claim(case, agent, at + MINUTE)
    session.commit()
    return case


def _stored(database_url: str, number: str) -> Case:
    """The case as stored, read in a fresh session (events loaded)."""
    with session_factory(database_url)() as fresh:
        case = CaseRepository(fresh).by_number(number)
        case.events  # noqa: B018  (load before the session closes)
        return case


def _events(database_url: str, number: str) -> List[tuple]:
    with session_factory(database_url)() as fresh:
        case = CaseRepository(fresh).by_number(number)
        return [
            (e.kind, e.actor_id, e.from_agent_id, e.to_agent_id, e.note)
            for e in CaseRepository(fresh).events(case)
        ]


def _kinds(database_url: str, number: str) -> List[CaseEventKind]:
    return [event[0] for event in _events(database_url, number)]


def _count(database_url: str, model, *criteria) -> int:
    with session_factory(database_url)() as fresh:
        return fresh.execute(select(func.count()).select_from(model).where(*criteria)).scalar_one()


# --- opening a case and coming back ----------------------------------------------------


def test_a_new_case_waits_in_the_queue_with_its_deadline(database_url, session, calendar):
    case = _open(session, calendar)
    session.commit()

    stored = _stored(database_url, case.number)
    assert stored.number == "AJ202611270001"
    assert (stored.status, stored.stage, stored.priority) == (
        CaseStatus.WAITING, CaseStage.RECEIVED, CasePriority.NORMAL
    )
    assert (stored.owner_id, stored.handler_id, stored.customer_id) == (None, None, None)
    assert (stored.conversation_id, stored.channel, stored.reason) == (
        "alice", "rest", HandoffReason.REQUEST_HUMAN
    )
    assert stored.summary == SUMMARY
    assert stored.off_hours is False
    assert stored.created_at == T0
    assert stored.first_response_due == T0 + 20 * MINUTE
    assert _events(database_url, case.number) == [(E.CREATED, None, None, None, "客户要求转人工")]


def test_high_risk_jumps_the_queue_and_off_hours_cases_are_due_next_working_day(
    database_url, session, calendar
):
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)
    case = _open(
        session, calendar, reason=HandoffReason.HIGH_RISK, at=saturday, callback_phone="13812345678"
    )
    session.commit()

    stored = _stored(database_url, case.number)
    assert stored.priority is CasePriority.HIGH
    assert stored.off_hours is True
    assert stored.callback_phone == "13812345678"
    assert stored.first_response_due == datetime(2026, 11, 30, 9, 20, tzinfo=SHANGHAI)
    assert stored.number == "AJ202611280001"


def test_numbers_count_per_local_day(session, calendar):
    # 23:30 on the 26th in UTC is already 07:30 on the 27th in Shanghai.
    early = _open(session, calendar, "a", at=datetime(2026, 11, 26, 23, 30, tzinfo=ZoneInfo("UTC")))
    later = _open(session, calendar, "b", at=T0)
    day_before = _open(session, calendar, "c", at=T0 - timedelta(days=1))
    assert [early.number, later.number, day_before.number] == [
        "AJ202611270001", "AJ202611270002", "AJ202611260001"
    ]


def test_invalid_input_is_refused_before_anything_is_stored(database_url, session, calendar):
    with pytest.raises(ValueError):
        _open(session, calendar, callback_phone="110")
    with pytest.raises(ValueError):
        _open(session, calendar, reason="bored")
    with pytest.raises(ValueError):
        CaseRepository(session).open_case("alice", "rest", "fallback", {"when": T0}, T0, calendar)
    with pytest.raises(ValueError, match="naive"):
        _open(session, calendar, at=datetime(2026, 11, 27, 10))
    session.commit()
    assert _count(database_url, Case) == 0


def test_a_customer_asking_again_comes_back_to_the_same_case(database_url, session, calendar, team):
    first = _open(session, calendar)
    again_while_waiting = _open(session, calendar, reason=HandoffReason.COMPLAINT)
    assert again_while_waiting is first
    CaseRepository(session).claim(first, team.li, T0 + MINUTE)
    session.commit()

    back_to_owner = _open(session, calendar, at=T0 + 5 * MINUTE, reason=HandoffReason.COMPLAINT)
    session.commit()

    assert back_to_owner is first
    assert back_to_owner.owner_id == team.li.id
    assert _count(database_url, Case) == 1
    assert _events(database_url, first.number)[-1] == (E.CUSTOMER_RETURNED, None, None, None, "投诉")
    assert _kinds(database_url, first.number) == [E.CREATED, E.CLAIMED, E.CUSTOMER_RETURNED]


def test_a_known_customer_comes_back_to_their_case_from_another_conversation(
    session, calendar, world: World
):
    on_wechat = _open(session, calendar, "wx-openid-1", customer=world.customer)
    on_the_app = _open(session, calendar, "app-session-9", customer=world.customer)
    someone_else = _open(session, calendar, "app-session-10", customer=world.other_customer)
    assert on_the_app is on_wechat
    assert someone_else is not on_wechat
    # The case follows the customer to where they are now: the owner's
    # messages reach them there.
    assert CaseRepository(session).active_for_conversation("app-session-9") is on_wechat
    assert CaseRepository(session).active_for_conversation("wx-openid-1") is None
    assert (on_wechat.conversation_id, on_wechat.channel) == ("app-session-9", "rest")
    assert [event.kind for event in CaseRepository(session).events(on_wechat)][-1] is (
        CaseEventKind.CUSTOMER_RETURNED
    )


def test_after_the_case_ends_a_new_request_opens_a_new_case(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    CaseRepository(session).close(case, team.li, "已为客户解冻", T0 + 10 * MINUTE)
    session.commit()

    new = _open(session, calendar, at=T0 + 30 * MINUTE)
    session.commit()

    assert new is not case
    assert new.status is CaseStatus.WAITING and new.owner_id is None
    assert new.number == "AJ202611270002"


def test_the_database_allows_one_active_case_per_conversation(database_url, session, calendar):
    case = _open(session, calendar)
    session.commit()
    duplicate = {
        column.key: getattr(case, column.key)
        for column in Case.__table__.columns
        if column.key != "id"
    }
    duplicate["number"] = "AJ202611279999"
    with pytest.raises(IntegrityError):
        with unit_of_work(database_url) as other:
            other.add(Case(**duplicate))


# --- the queue and the agent's desk ----------------------------------------------------------


def test_the_queue_puts_high_priority_first_then_the_longest_waiting(session, calendar, team):
    older = _open(session, calendar, "a", at=T0)
    urgent = _open(session, calendar, "b", at=T0 + 2 * MINUTE, reason=HandoffReason.HIGH_RISK)
    newer = _open(session, calendar, "c", at=T0 + 3 * MINUTE, reason=HandoffReason.COMPLAINT)
    taken = _open(session, calendar, "d", at=T0 - MINUTE)
    urgent_later = _open(session, calendar, "e", at=T0 + 4 * MINUTE, reason=HandoffReason.HIGH_RISK)
    CaseRepository(session).claim(taken, team.li, T0)
    session.commit()

    queue = CaseRepository(session).queue(T0 + 16 * MINUTE, calendar)

    assert [entry.case for entry in queue] == [urgent, urgent_later, older, newer]
    assert [entry.sla for entry in queue] == [
        SlaState.OK, SlaState.OK, SlaState.WARNING, SlaState.OK
    ]
    assert queue[2].due == T0 + 20 * MINUTE
    assert queue[2].warn_at == T0 + 15 * MINUTE


def test_an_agents_desk_lists_cases_owned_or_handled(session, calendar, team):
    mine = _claimed(session, calendar, team.li, "a")
    consulted_on = _claimed(session, calendar, team.wang, "b", at=T0 - 5 * MINUTE)
    _claimed(session, calendar, team.wang, "c")
    CaseRepository(session).consult(consulted_on, team.wang, team.li, "请协助核实", T0 + 2 * MINUTE)
    session.commit()

    desk = CaseRepository(session).open_cases_of(team.li, T0 + 10 * MINUTE, calendar)

    assert [entry.case for entry in desk] == [consulted_on, mine]
    assert [entry.sla for entry in desk] == [SlaState.WARNING, SlaState.OK]
    assert CaseRepository(session).open_cases_of(team.zhao, T0, calendar) == []


def test_supervisors_list_all_cases_with_filters(session, calendar, team):
    first = _claimed(session, calendar, team.li, "a")
    second = _open(session, calendar, "b", at=T0 + MINUTE, reason=HandoffReason.COMPLAINT)
    session.commit()
    cases = CaseRepository(session)

    assert cases.all_cases(team.chen) == [second, first]
    assert cases.all_cases(team.chen, CaseFilter(status=CaseStatus.WAITING)) == [second]
    assert cases.all_cases(team.chen, CaseFilter(owner_id=team.li.id)) == [first]
    assert cases.all_cases(team.chen, CaseFilter(reason=HandoffReason.COMPLAINT)) == [second]
    assert cases.all_cases(team.chen, CaseFilter(created_before=T0 + MINUTE)) == [first]
    assert cases.all_cases(team.chen, CaseFilter(conversation_id="a", limit=1)) == [first]
    with pytest.raises(NotAllowed):
        cases.all_cases(team.li)


# --- the first claim ------------------------------------------------------------------


def test_claiming_makes_the_agent_owner_and_handler(database_url, session, calendar, team):
    case = _open(session, calendar)
    CaseRepository(session).claim(case, team.li, T0 + 2 * MINUTE)
    session.commit()

    assert case.owner is team.li and case.handler is team.li
    stored = _stored(database_url, case.number)
    assert (stored.status, stored.owner_id, stored.handler_id, stored.claimed_at) == (
        CaseStatus.OPEN, team.li.id, team.li.id, T0 + 2 * MINUTE
    )
    assert _events(database_url, case.number)[-1] == (E.CLAIMED, team.li.id, None, team.li.id, "")
    assert [(a.action, a.agent_id) for a in AuditRepository(session).for_case(case)] == [
        (AuditAction.CLAIM, team.li.id)
    ]


def test_a_claimed_case_cannot_be_claimed_again(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)

    with pytest.raises(CaseAlreadyClaimed) as refused:
        CaseRepository(session).claim(case, team.wang, T0 + 2 * MINUTE)
    session.commit()

    assert (refused.value.owner_id, refused.value.owner_display_name) == (team.li.id, "李娜")
    assert _stored(database_url, case.number).owner_id == team.li.id
    assert _kinds(database_url, case.number) == [E.CREATED, E.CLAIMED]


def test_a_claim_on_a_stale_copy_names_the_real_owner(database_url, session, calendar, team):
    case = _open(session, calendar)
    session.commit()
    with unit_of_work(database_url) as other:
        CaseRepository(other).claim(
            CaseRepository(other).by_number(case.number), other.get(Agent, team.wang.id), T0
        )
    assert case.owner_id is None  # this session has not seen it

    with pytest.raises(CaseAlreadyClaimed) as refused:
        CaseRepository(session).claim(case, team.li, T0 + MINUTE)
    assert refused.value.owner_username == "agent2"
    assert case.owner_id == team.wang.id  # reloaded


def test_ended_or_inactive_cannot_claim(session, calendar, team):
    case = _open(session, calendar)
    with pytest.raises(AgentNotActive):
        CaseRepository(session).claim(case, team.gone, T0)
    CaseRepository(session).return_to_bot(case, None, T0 + MINUTE)
    with pytest.raises(WrongCaseStatus, match="returned_to_bot"):
        CaseRepository(session).claim(case, team.li, T0 + 2 * MINUTE)


# --- racing claims -------------------------------------------------------------------


def _naive_claim(session: Session, case: Case, agent: Agent, at: datetime) -> None:
    """Read-then-write: what the conditional UPDATE exists to prevent."""
    if case.owner_id is not None:
        raise CaseAlreadyClaimed(case, session.get(Agent, case.owner_id))
    case.owner_id = agent.id
    case.handler_id = agent.id
    case.status = CaseStatus.OPEN
    session.add(
        CaseEvent(case_id=case.id, kind=E.CLAIMED, actor_id=agent.id, note="", created_at=at)
    )
    session.flush()


def _repository_claim(session: Session, case: Case, agent: Agent, at: datetime) -> None:
    CaseRepository(session).claim(case, agent, at)


def _claim_race(
    database_url: str, number: str, agent_ids: List[int], claim, read_first: bool
) -> Counter:
    """Every racer, in its own unit of work, loads the case and claims it; with
    ``read_first`` all of them have seen it unclaimed before anyone writes."""
    everyone_has_read = threading.Barrier(len(agent_ids))

    def attempt(index: int) -> str:
        with unit_of_work(database_url) as session:
            case = CaseRepository(session).by_number(number)
            agent = session.get(Agent, agent_ids[index])
            if read_first:
                everyone_has_read.wait(timeout=30)
            try:
                claim(session, case, agent, T0 + MINUTE)
            except CaseAlreadyClaimed as error:
                return f"lost to {error.owner_id}"
            return f"won {agent.id}"

    return race(len(agent_ids), attempt)


@pytest.fixture
def eight_agents(session) -> List[int]:
    agents = [_agent(f"racer{i}", f"坐席{i}") for i in range(8)]
    session.add_all(agents)
    session.commit()
    return [agent.id for agent in agents]


@pytest.mark.parametrize("read_first", [False, True], ids=["simultaneous", "all-read-then-claim"])
def test_eight_agents_claiming_at_once_make_exactly_one_owner(
    database_url, session, calendar, eight_agents, read_first
):
    case = _open(session, calendar)
    session.commit()

    outcomes = _claim_race(database_url, case.number, eight_agents, _repository_claim, read_first)

    winners = [outcome for outcome in outcomes if outcome.startswith("won")]
    assert len(winners) == 1, outcomes
    winner = int(winners[0].split()[1])
    assert outcomes == Counter({f"won {winner}": 1, f"lost to {winner}": 7})
    stored = _stored(database_url, case.number)
    assert (stored.owner_id, stored.handler_id, stored.status) == (winner, winner, CaseStatus.OPEN)
    assert _kinds(database_url, case.number) == [E.CREATED, E.CLAIMED]
    assert _count(database_url, AuditEntry, AuditEntry.action == AuditAction.CLAIM) == 1


def test_the_race_test_catches_a_naive_read_then_write_claim(
    database_url, session, calendar, eight_agents
):
    """The harness has teeth: without the conditional UPDATE several agents
    'win' the same case and the last one silently becomes its owner."""
    case = _open(session, calendar)
    session.commit()

    outcomes = _claim_race(database_url, case.number, eight_agents, _naive_claim, read_first=True)

    assert sum(outcome.startswith("won") for outcome in outcomes.elements()) > 1, outcomes
    assert _kinds(database_url, case.number).count(E.CLAIMED) > 1


def test_racing_requests_of_one_conversation_open_one_case(database_url, session, calendar):
    def attempt(_index: int) -> str:
        with unit_of_work(database_url) as other:
            return _open(other, calendar, "alice").number

    assert race(6, attempt) == Counter({"AJ202611270001": 6})
    assert _count(database_url, Case) == 1
    assert _count(database_url, CaseEvent) == 1


def test_racing_customers_get_distinct_numbers(database_url, session, calendar):
    def attempt(index: int) -> str:
        with unit_of_work(database_url) as other:
            return _open(other, calendar, f"customer-{index}").number

    outcomes = race(6, attempt)

    assert sorted(outcomes) == [f"AJ20261127{n:04d}" for n in range(1, 7)], outcomes
    assert _count(database_url, Case) == 6


# --- who may see and do what -------------------------------------------------------------


def test_agents_see_the_queue_and_their_own_cases_supervisors_everything(session, calendar, team):
    waiting = _open(session, calendar, "a")
    lis = _claimed(session, calendar, team.li, "b")
    cases = CaseRepository(session)

    assert all(cases.can_view(agent, waiting) for agent in (team.li, team.wang, team.chen))
    assert cases.can_view(team.li, lis) and cases.can_view(team.chen, lis)
    assert not cases.can_view(team.wang, lis)
    assert not cases.can_view(team.gone, waiting)
    assert cases.can_act(team.chen, lis) and not cases.can_act(team.wang, lis)


def test_viewing_someone_elses_case_is_refused_and_looks_are_audited(
    database_url, session, calendar, team
):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)

    with pytest.raises(NotAllowed, match="agent2 may not view"):
        cases.view(team.wang, case.number, at=T0 + 2 * MINUTE)
    seen = cases.view(team.li, case.number.lower(), at=T0 + 3 * MINUTE)
    by_supervisor = cases.view(team.chen, case.number, at=T0 + 4 * MINUTE)
    session.commit()

    assert seen is case and by_supervisor is case
    assert [e.kind for e in seen.events] == [E.CREATED, E.CLAIMED]
    assert cases.view(team.li, "AJ209901010001", at=T0) is None
    assert [(a.action, a.agent_id) for a in AuditRepository(session).for_case(case)] == [
        (AuditAction.CLAIM, team.li.id),
        (AuditAction.VIEW_CASE, team.li.id),
        (AuditAction.VIEW_CASE, team.chen.id),
    ]


def test_someone_elses_case_cannot_be_touched(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)
    attempts = [
        lambda: cases.add_message(case, MessageAuthor.AGENT, "您好", team.wang, at=T0),
        lambda: cases.add_message(case, MessageAuthor.AGENT, "备注", team.wang, private=True, at=T0),
        lambda: cases.advance_stage(case, team.wang, CaseStage.INVESTIGATING, T0),
        lambda: cases.consult(case, team.wang, team.zhao, "请协助", T0),
        lambda: cases.transfer(case, team.wang, team.zhao, "转给你", T0),
        lambda: cases.close(case, team.wang, "已解决", T0),
        lambda: cases.return_to_bot(case, team.wang, T0),
        lambda: cases.reassign(case, team.wang, team.wang, "我来处理", T0),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed):
            attempt()
    session.commit()

    stored = _stored(database_url, case.number)
    assert (stored.owner_id, stored.handler_id, stored.stage, stored.status) == (
        team.li.id, team.li.id, CaseStage.RECEIVED, CaseStatus.OPEN
    )
    assert _kinds(database_url, case.number) == [E.CREATED, E.CLAIMED]
    assert CaseRepository(session).messages(case, include_private=True) == []


def test_agents_write_only_in_open_cases(session, calendar, team):
    waiting = _open(session, calendar)
    with pytest.raises(NotAllowed):  # claim it first
        CaseRepository(session).add_message(waiting, "agent", "您好", team.li, at=T0)
    with pytest.raises(ValueError):
        CaseRepository(session).add_message(waiting, "customer", "有人吗", team.li, at=T0)
    with pytest.raises(ValueError):
        CaseRepository(session).add_message(waiting, "agent", "您好", at=T0)
    with pytest.raises(ValueError):
        CaseRepository(session).add_message(waiting, "customer", "  ", at=T0)
    CaseRepository(session).add_message(waiting, "customer", "有人吗？", at=T0 + MINUTE)


# --- messages and the first response -----------------------------------------------------


def test_the_first_response_is_the_first_agent_message_to_the_customer(
    database_url, session, calendar, team
):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)

    cases.add_message(case, MessageAuthor.CUSTOMER, " 我的电话是13812345678\n", at=T0 + 2 * MINUTE)
    cases.add_message(case, MessageAuthor.BOT, "正在为您转接人工客服", at=T0 + 2 * MINUTE)
    cases.add_message(
        case, MessageAuthor.AGENT, "客户情绪激动", team.li, private=True, at=T0 + 3 * MINUTE
    )
    assert case.first_responded_at is None
    cases.add_message(case, MessageAuthor.AGENT, "您好，我是客服李娜。", team.li, at=T0 + 4 * MINUTE)
    cases.add_message(case, MessageAuthor.AGENT, "请稍等。", team.li, at=T0 + 6 * MINUTE)
    session.commit()

    assert _stored(database_url, case.number).first_responded_at == T0 + 4 * MINUTE
    everything = cases.messages(case, include_private=True)
    assert everything[0].text == " 我的电话是13812345678\n"  # stored as written
    assert [m.author for m in everything] == [
        MessageAuthor.CUSTOMER, MessageAuthor.BOT, MessageAuthor.AGENT, MessageAuthor.AGENT,
        MessageAuthor.AGENT,
    ]
    for_customer = cases.messages(case, include_private=False)
    assert "客户情绪激动" not in [m.text for m in for_customer] and len(for_customer) == 4
    assert [a.action for a in AuditRepository(session).for_case(case)] == [
        AuditAction.CLAIM, AuditAction.ADD_NOTE, AuditAction.SEND_MESSAGE, AuditAction.SEND_MESSAGE
    ]


def test_a_first_response_recorded_elsewhere_is_kept(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    with unit_of_work(database_url) as other:
        CaseRepository(other).add_message(
            CaseRepository(other).by_number(case.number), "agent", "您好",
            other.get(Agent, team.chen.id), at=T0 + 2 * MINUTE,
        )

    CaseRepository(session).add_message(case, "agent", "您好，我是李娜", team.li, at=T0 + 5 * MINUTE)
    session.commit()

    assert case.first_responded_at == T0 + 2 * MINUTE
    assert _stored(database_url, case.number).first_responded_at == T0 + 2 * MINUTE


# --- stages ----------------------------------------------------------------------------


def test_stages_only_move_forward(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)

    cases.advance_stage(case, team.li, CaseStage.INVESTIGATING, T0 + 2 * MINUTE)
    cases.advance_stage(case, team.li, "feedback", T0 + 3 * MINUTE)  # skipping 处理 is allowed
    session.commit()
    for backwards in (CaseStage.FEEDBACK, CaseStage.HANDLING, CaseStage.RECEIVED):
        with pytest.raises(StageNotForward):
            cases.advance_stage(case, team.li, backwards, T0 + 4 * MINUTE)
    session.commit()

    assert _stored(database_url, case.number).stage is CaseStage.FEEDBACK
    stage_events = [e for e in _events(database_url, case.number) if e[0] is E.STAGE_CHANGED]
    assert [e[4] for e in stage_events] == ["受理 → 调查", "调查 → 反馈"]


def test_supervisors_do_not_move_stages_of_cases_they_do_not_handle(session, calendar, team):
    case = _claimed(session, calendar, team.li)
    with pytest.raises(NotAllowed):
        CaseRepository(session).advance_stage(case, team.chen, CaseStage.HANDLING, T0)


# --- consulting, transferring, reassigning ------------------------------------------------------


def test_consulting_a_colleague_keeps_the_owner(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)

    cases.consult(case, team.li, team.zhao, "请协助核实冻结原因", T0 + 2 * MINUTE)
    cases.advance_stage(case, team.zhao, CaseStage.INVESTIGATING, T0 + 3 * MINUTE)
    cases.add_message(case, "agent", "已查明原因", team.zhao, private=True, at=T0 + 4 * MINUTE)
    with pytest.raises(NotAllowed, match="only the owner closes"):
        cases.close(case, team.zhao, "已解决", T0 + 5 * MINUTE)
    with pytest.raises(NotAllowed):
        cases.transfer(case, team.zhao, team.wang, "转给王强", T0 + 5 * MINUTE)
    session.commit()

    assert (case.owner, case.handler) == (team.li, team.zhao)
    assert _events(database_url, case.number)[2] == (
        E.CONSULTED, team.li.id, team.li.id, team.zhao.id, "请协助核实冻结原因"
    )

    cases.take_back(case, team.li, T0 + 6 * MINUTE)
    cases.close(case, team.li, "已协助客户解冻信用卡", T0 + 7 * MINUTE)
    session.commit()

    stored = _stored(database_url, case.number)
    assert (stored.owner_id, stored.handler_id, stored.status) == (
        team.li.id, team.li.id, CaseStatus.CLOSED
    )
    # The consulted colleague may still read the case they worked on, but no longer write.
    assert cases.can_view(team.zhao, case) and not cases.can_act(team.zhao, case)


def test_transferring_hands_over_the_handling_not_the_responsibility(
    database_url, session, calendar, team
):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)

    cases.transfer(case, team.li, team.wang, "客户需办理贷款业务，转王强处理", T0 + 2 * MINUTE)
    cases.add_message(case, "agent", "您好，我是王强，由我继续为您办理。", team.wang, at=T0 + 3 * MINUTE)
    session.commit()

    stored = _stored(database_url, case.number)
    assert (stored.owner_id, stored.handler_id) == (team.li.id, team.wang.id)
    assert [c.case for c in cases.open_cases_of(team.wang, T0, calendar)] == [case]
    assert [c.case for c in cases.open_cases_of(team.li, T0, calendar)] == [case]
    with pytest.raises(NotAllowed):
        cases.close(case, team.wang, "已办理", T0 + 4 * MINUTE)


def test_handing_over_needs_a_note_an_active_colleague_and_an_open_case(
    database_url, session, calendar, team
):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)
    with pytest.raises(ValueError, match="note"):
        cases.consult(case, team.li, team.zhao, "  ", T0)
    with pytest.raises(ValueError, match="yourself"):
        cases.consult(case, team.li, team.li, "自己", T0)
    with pytest.raises(ValueError, match="already handles"):
        cases.transfer(case, team.li, team.li, "收回", T0)
    with pytest.raises(AgentNotActive):
        cases.transfer(case, team.li, team.gone, "转交", T0)
    waiting = _open(session, calendar, "bob")
    with pytest.raises(NotAllowed):
        cases.consult(waiting, team.li, team.zhao, "请协助", T0)
    session.commit()
    assert _kinds(database_url, case.number) == [E.CREATED, E.CLAIMED]


def test_only_a_supervisor_with_a_reason_changes_the_owner(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)

    with pytest.raises(NotAllowed):
        cases.reassign(case, team.li, team.wang, "我要休假", T0 + 2 * MINUTE)
    with pytest.raises(ValueError, match="reason"):
        cases.reassign(case, team.chen, team.wang, " ", T0 + 2 * MINUTE)
    with pytest.raises(ValueError, match="already owns"):
        cases.reassign(case, team.chen, team.li, "重复", T0 + 2 * MINUTE)
    assert case.owner_id == team.li.id

    cases.reassign(case, team.chen, team.wang, "李娜临时请假，由王强接手", T0 + 3 * MINUTE)
    session.commit()

    stored = _stored(database_url, case.number)
    assert (stored.owner_id, stored.handler_id) == (team.wang.id, team.wang.id)
    assert _events(database_url, case.number)[-1] == (
        E.REASSIGNED, team.chen.id, team.li.id, team.wang.id, "李娜临时请假，由王强接手"
    )
    assert not cases.can_view(team.li, case)  # no longer hers
    with pytest.raises(NotAllowed):
        cases.close(case, team.li, "已解决", T0 + 4 * MINUTE)
    cases.close(case, team.wang, "已解决", T0 + 4 * MINUTE)
    audit = AuditRepository(session).for_case(case)
    assert [(a.action, a.agent_id) for a in audit][1] == (AuditAction.REASSIGN, team.chen.id)
    assert "李娜临时请假" in audit[1].detail


def test_a_close_on_a_stale_copy_after_a_reassignment_is_refused(
    database_url, session, calendar, team
):
    case = _claimed(session, calendar, team.li)
    with unit_of_work(database_url) as other:
        CaseRepository(other).reassign(
            CaseRepository(other).by_number(case.number), other.get(Agent, team.chen.id),
            other.get(Agent, team.wang.id), "改派", T0 + 2 * MINUTE,
        )
    assert case.owner_id == team.li.id  # stale

    with pytest.raises(NotAllowed):
        CaseRepository(session).close(case, team.li, "已解决", T0 + 3 * MINUTE)
    session.commit()
    assert _stored(database_url, case.number).status is CaseStatus.OPEN


# --- the end of a case -----------------------------------------------------------------------


def test_only_the_owner_closes_and_says_how(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)

    with pytest.raises(NotAllowed):
        cases.close(case, team.chen, "主管办结", T0 + 2 * MINUTE)  # not even a supervisor
    with pytest.raises(ValueError, match="resolution"):
        cases.close(case, team.li, "", T0 + 2 * MINUTE)
    cases.close(case, team.li, "已为客户解冻信用卡", T0 + 3 * MINUTE)
    session.commit()
    with pytest.raises(WrongCaseStatus):
        cases.close(case, team.li, "再次办结", T0 + 4 * MINUTE)
    with pytest.raises(WrongCaseStatus):
        cases.add_message(case, "agent", "还在吗", team.li, at=T0 + 4 * MINUTE)

    stored = _stored(database_url, case.number)
    assert (stored.status, stored.closed_at, stored.resolution_note) == (
        CaseStatus.CLOSED, T0 + 3 * MINUTE, "已为客户解冻信用卡"
    )
    assert _events(database_url, case.number)[-1] == (E.CLOSED, team.li.id, None, None, "已为客户解冻信用卡")


def test_a_waiting_case_cannot_be_closed(session, calendar, team):
    case = _open(session, calendar)
    with pytest.raises(NotAllowed):
        CaseRepository(session).close(case, team.li, "已解决", T0)


def test_returning_to_the_bot(database_url, session, calendar, team):
    withdrawn = _open(session, calendar, "a")
    CaseRepository(session).return_to_bot(withdrawn, None, T0 + MINUTE, note="客户表示不需要人工")
    handled = _claimed(session, calendar, team.li, "b")
    cases = CaseRepository(session)
    with pytest.raises(NotAllowed):
        cases.return_to_bot(handled, team.wang, T0 + 2 * MINUTE)
    with pytest.raises(ValueError):
        cases.return_to_bot(handled, None, T0 + 2 * MINUTE)
    unclaimed = _open(session, calendar, "c")
    with pytest.raises(NotAllowed):
        cases.return_to_bot(unclaimed, team.li, T0 + 2 * MINUTE)
    cases.return_to_bot(unclaimed, team.chen, T0 + 2 * MINUTE)
    cases.return_to_bot(handled, team.li, T0 + 3 * MINUTE)
    session.commit()

    ended = [(withdrawn, T0 + MINUTE), (handled, T0 + 3 * MINUTE), (unclaimed, T0 + 2 * MINUTE)]
    for case, at in ended:
        stored = _stored(database_url, case.number)
        assert (stored.status, stored.closed_at) == (CaseStatus.RETURNED_TO_BOT, at)
        assert _kinds(database_url, case.number)[-1] is E.RETURNED_TO_BOT
    assert _events(database_url, withdrawn.number)[-1][4] == "客户表示不需要人工"
    assert _open(session, calendar, "a", at=T0 + 9 * MINUTE) is not withdrawn


def test_satisfaction_only_after_close_and_only_once(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)
    with pytest.raises(CaseNotClosed):
        cases.record_satisfaction(case, 5, "很好", T0 + 2 * MINUTE)
    cases.close(case, team.li, "已解决", T0 + 3 * MINUTE)
    for bad in (0, 6, True, 4.5, "5"):
        with pytest.raises(ValueError):
            cases.record_satisfaction(case, bad, None, T0 + 4 * MINUTE)

    cases.record_satisfaction(case, 4, " 回复及时 ", T0 + 5 * MINUTE)
    session.commit()
    with pytest.raises(SatisfactionAlreadyRecorded):
        cases.record_satisfaction(case, 1, "改主意了", T0 + 6 * MINUTE)
    session.commit()

    stored = _stored(database_url, case.number)
    assert (stored.satisfaction_score, stored.satisfaction_comment, stored.satisfaction_at) == (
        4, "回复及时", T0 + 5 * MINUTE
    )
    assert _events(database_url, case.number)[-1] == (E.SATISFACTION, None, None, None, "4分")


def test_the_database_refuses_a_score_outside_1_to_5(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    with pytest.raises(IntegrityError):
        with unit_of_work(database_url) as other:
            other.execute(
                text("UPDATE handoff_cases SET satisfaction_score = 9 WHERE id = :id"),
                {"id": case.id},
            )


# --- SLA marks ---------------------------------------------------------------------------------


def test_breaches_warnings_and_escalations(database_url, session, calendar, team):
    late = _open(session, calendar, "a", at=T0)
    answered = _claimed(session, calendar, team.li, "b", at=T0)
    CaseRepository(session).add_message(answered, "agent", "您好", team.li, at=T0 + 5 * MINUTE)
    recent = _open(session, calendar, "c", at=T0 + 10 * MINUTE)
    claimed_unanswered = _claimed(session, calendar, team.wang, "d", at=T0 - MINUTE)
    session.commit()
    cases = CaseRepository(session)

    assert cases.needing_warning(T0 + 16 * MINUTE, calendar) == [claimed_unanswered, late]
    assert cases.warn(late, T0 + 16 * MINUTE) is True
    assert cases.warn(late, T0 + 17 * MINUTE) is False  # once
    assert cases.needing_warning(T0 + 17 * MINUTE, calendar) == [claimed_unanswered]
    assert cases.breaches(T0 + 21 * MINUTE) == [claimed_unanswered, late]
    assert cases.breaches(T0 + 31 * MINUTE) == [claimed_unanswered, late, recent]
    assert cases.escalate(late, T0 + 21 * MINUTE, note="已通知值班主管") is True
    assert cases.escalate(late, T0 + 22 * MINUTE) is False
    assert cases.warn(answered, T0 + 16 * MINUTE) is False  # answered: nothing to warn about
    session.commit()

    stored = _stored(database_url, late.number)
    assert (stored.warned_at, stored.escalated_at) == (T0 + 16 * MINUTE, T0 + 21 * MINUTE)
    assert _kinds(database_url, late.number) == [E.CREATED, E.WARNED, E.ESCALATED]


def test_a_waiting_case_nobody_took_times_out(database_url, session, calendar, team):
    forgotten = _open(session, calendar, "a")
    taken = _claimed(session, calendar, team.li, "b")
    cases = CaseRepository(session)

    cases.mark_timed_out(forgotten, T0 + 60 * MINUTE, note="超过时限无人接入，已引导客户留言")
    with pytest.raises(WrongCaseStatus):
        cases.mark_timed_out(taken, T0 + 60 * MINUTE)
    session.commit()

    stored = _stored(database_url, forgotten.number)
    assert (stored.status, stored.closed_at) == (CaseStatus.ABANDONED, T0 + 60 * MINUTE)
    assert _kinds(database_url, forgotten.number) == [E.CREATED, E.TIMED_OUT]
    assert cases.queue(T0 + 61 * MINUTE, calendar) == []
    assert _open(session, calendar, "a", at=T0 + 70 * MINUTE) is not forgotten


# --- agents, passwords, audit, canned replies -------------------------------------------------


def test_authentication_and_its_audit_trail(database_url, session):
    agents = AgentRepository(session)
    li = agents.create(" Agent1 ", "李娜", "正确密码123", at=T0)
    retired = agents.create("retired", "退休员工", "正确密码123", at=T0)
    retired.active = False
    session.commit()

    assert li.username == "agent1" and li.password_hash.startswith("$argon2id$")
    assert agents.by_username("AGENT1") is li
    assert agents.authenticate("agent1", "正确密码123", at=T0) is li
    assert agents.authenticate("agent1", "错误密码", at=T0 + MINUTE) is None
    assert agents.authenticate("nobody", "正确密码123", at=T0 + 2 * MINUTE) is None
    assert agents.authenticate("retired", "正确密码123", at=T0 + 3 * MINUTE) is None
    session.commit()

    with session_factory(database_url)() as fresh:
        entries = fresh.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        assert [(e.action, e.agent_id, e.detail) for e in entries] == [
            (AuditAction.LOGIN, li.id, ""),
            (AuditAction.LOGIN_FAILED, li.id, "wrong password: agent1"),
            (AuditAction.LOGIN_FAILED, None, "unknown user: nobody"),
            (AuditAction.LOGIN_FAILED, retired.id, "inactive: retired"),
        ]
    assert [a.username for a in agents.all()] == ["agent1", "retired"]
    assert [a.username for a in agents.all(active_only=True)] == ["agent1"]


def test_an_outdated_or_broken_hash_is_handled_at_login(session):
    outdated = Agent(
        username="old", display_name="老员工", role=AgentRole.AGENT, active=True, created_at=T0,
        password_hash=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("旧密码"),
    )
    broken = Agent(
        username="broken", display_name="坏哈希", role=AgentRole.AGENT, active=True, created_at=T0,
        password_hash="$argon2id$v=19$garbage",
    )
    session.add_all([outdated, broken])
    session.commit()
    agents = AgentRepository(session)

    assert agents.authenticate("old", "旧密码", at=T0) is outdated
    assert "m=65536" in outdated.password_hash  # rehashed with today's parameters
    assert agents.authenticate("old", "旧密码", at=T0) is outdated
    assert agents.authenticate("broken", "任何密码", at=T0) is None


def test_usernames_and_passwords_are_validated(session):
    agents = AgentRepository(session)
    for bad in ("a", "有中文", "with space", "x" * 41):
        with pytest.raises(ValueError):
            agents.create(bad, "名字", "密码1234")
    with pytest.raises(ValueError):
        agents.create("okname", "名字", "")
    with pytest.raises(ValueError):
        agents.create("okname", " ", "密码1234")


def test_the_audit_trail_of_a_case_tells_who_did_what(database_url, session, calendar, team):
    case = _claimed(session, calendar, team.li)
    cases = CaseRepository(session)
    cases.view(team.li, case.number, at=T0 + 2 * MINUTE)
    cases.add_message(case, "agent", "您好", team.li, at=T0 + 3 * MINUTE)
    cases.advance_stage(case, team.li, CaseStage.HANDLING, T0 + 4 * MINUTE)
    cases.consult(case, team.li, team.zhao, "请协助", T0 + 5 * MINUTE)
    cases.take_back(case, team.li, T0 + 6 * MINUTE)
    cases.close(case, team.li, "已解决", T0 + 7 * MINUTE)
    AuditRepository(session).record("logout", T0 + 8 * MINUTE, agent=team.li)
    session.commit()

    audit = AuditRepository(session)
    assert [(a.action, a.at) for a in audit.for_case(case)] == [
        (AuditAction.CLAIM, T0 + MINUTE),
        (AuditAction.VIEW_CASE, T0 + 2 * MINUTE),
        (AuditAction.SEND_MESSAGE, T0 + 3 * MINUTE),
        (AuditAction.ADVANCE_STAGE, T0 + 4 * MINUTE),
        (AuditAction.CONSULT, T0 + 5 * MINUTE),
        (AuditAction.TRANSFER, T0 + 6 * MINUTE),
        (AuditAction.CLOSE, T0 + 7 * MINUTE),
    ]
    assert audit.for_agent(team.li, since=T0 + 7 * MINUTE)[-1].action is AuditAction.LOGOUT
    assert [a.label for a in (AuditAction.CLAIM, AuditAction.VIEW_CASE)] == ["接入工单", "查看工单"]
    with pytest.raises(ValueError):
        audit.record("hack", T0, agent=team.li)


def test_canned_replies_fill_in_the_agents_name(session, team):
    session.add_all([
        CannedReply(title="问候", text="您好，我是客服{name}，很高兴为您服务。", active=True),
        CannedReply(title="旧", text="已停用", active=False),
    ])
    session.commit()
    replies = CannedReplyRepository(session).active()
    assert [r.for_agent(team.li) for r in replies] == ["您好，我是客服李娜，很高兴为您服务。"]


def test_labels_are_chinese():
    assert [s.label for s in CaseStage] == ["受理", "调查", "处理", "反馈"]
    assert CaseStatus.WAITING.label == "排队中"
    assert HandoffReason.HIGH_RISK.priority is CasePriority.HIGH
    others = {r.priority for r in HandoffReason if r is not HandoffReason.HIGH_RISK}
    assert others == {CasePriority.NORMAL}


# --- demo seed ----------------------------------------------------------------------------


def test_the_demo_seed_adds_agents_and_replies_once(database_url, session, monkeypatch):
    monkeypatch.setenv("BOT_DEMO_AGENT_PASSWORD", "本地演示-密码")
    assert seed_handoff(session, now=T0) is True
    session.commit()
    monkeypatch.setenv("BOT_DEMO_AGENT_PASSWORD", "另一个密码")
    assert seed_handoff(session, now=T0) is False  # nothing missing, passwords untouched
    session.commit()

    agents = AgentRepository(session)
    assert [(a.username, a.display_name, a.role) for a in agents.all()] == sorted(DEMO_AGENTS)
    assert agents.authenticate("supervisor", "本地演示-密码", at=T0).is_supervisor
    assert agents.authenticate("agent1", "另一个密码", at=T0) is None
    assert 5 <= _count(database_url, CannedReply) == len(CANNED_REPLIES) <= 8
    greeting = CannedReplyRepository(session).active()[0]
    assert greeting.for_agent(agents.by_username("agent1")) == "您好，我是客服李娜，很高兴为您服务。"


def test_without_the_variable_the_demo_password_is_random_and_kept_locally(session, monkeypatch, tmp_path):
    monkeypatch.delenv("BOT_DEMO_AGENT_PASSWORD", raising=False)
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        seed_handoff(session, now=T0)
        kept = tmp_path / "demo-agent-password"
        assert kept.stat().st_mode & 0o077 == 0  # its owner's only
        password = kept.read_text(encoding="utf-8").strip()
        assert len(password) >= 16
        assert AgentRepository(session).authenticate("agent2", password, at=T0) is not None
    finally:
        get_settings.cache_clear()


def test_the_application_seed_brings_the_demo_agents(session):
    seed(session, now=T0)
    usernames = [a.username for a in AgentRepository(session).all()]
    assert usernames == ["agent1", "agent2", "supervisor"]


def test_the_list_command_warns_that_demo_accounts_must_change(database_url, capsys, monkeypatch):
    monkeypatch.setenv("BOT_DEMO_AGENT_PASSWORD", "secret-from-env")
    seed_main(["--url", database_url, "--list"])
    output = capsys.readouterr().out

    assert output.splitlines()[0] == "demo agents and canned replies added"
    assert "agent1\t李娜\t客服" in output and "supervisor\t陈主管\t主管" in output
    assert DEMO_WARNING in output and "必须先修改密码" in DEMO_WARNING
    assert "secret-from-env" not in output  # a password from the environment is not printed


# --- what the bot tells a waiting customer, and what they leave ---------------------------


def test_queue_position_puts_high_risk_first_then_the_longest_waiting(session, calendar):
    first = _open(session, calendar, "a", at=T0)
    second = _open(session, calendar, "b", at=T0 + MINUTE)
    urgent = _open(session, calendar, "c", at=T0 + 2 * MINUTE, reason=HandoffReason.HIGH_RISK)
    later_urgent = _open(session, calendar, "d", at=T0 + 3 * MINUTE, reason=HandoffReason.HIGH_RISK)
    repo = CaseRepository(session)
    positions = [repo.queue_position(case) for case in (first, second, urgent, later_urgent)]
    assert positions == [3, 4, 1, 2]
    assert [tracked.case for tracked in repo.queue(T0, calendar)] == [urgent, later_urgent, first, second]


def test_a_claimed_case_has_no_queue_position(session, calendar, team):
    assert CaseRepository(session).queue_position(_claimed(session, calendar, team.li)) == 0


def test_typical_wait_is_the_mean_of_recent_claims(session, calendar, team):
    repo = CaseRepository(session)
    assert repo.typical_wait(T0 + 60 * MINUTE) is None  # nothing claimed: no promise
    for conversation, waited in (("a", 2), ("b", 6)):
        case = _open(session, calendar, conversation, at=T0)
        repo.claim(case, team.li, T0 + waited * MINUTE)
        repo.close(case, team.li, "已处理", T0 + 30 * MINUTE)
    assert repo.typical_wait(T0 + 60 * MINUTE) == 4 * MINUTE
    assert repo.typical_wait(T0 + 60 * MINUTE + timedelta(days=2)) is None  # too old


def test_a_waiting_customer_leaves_one_callback_number(database_url, session, calendar, team):
    case = _open(session, calendar)
    repo = CaseRepository(session)
    assert repo.leave_callback_number(case, "13812345678", T0 + MINUTE) is True
    assert repo.leave_callback_number(case, "13900000000", T0 + 2 * MINUTE) is False
    with pytest.raises(ValueError):
        repo.leave_callback_number(case, "12345", T0)
    session.commit()
    assert _stored(database_url, case.number).callback_phone == "13812345678"
    assert _kinds(database_url, case.number) == [E.CREATED, E.CALLBACK_REQUESTED]
    claimed = _claimed(session, calendar, team.li, "bob")
    assert repo.leave_callback_number(claimed, "13812345678", T0 + 2 * MINUTE) is False


def test_satisfaction_goes_to_the_latest_closed_case_and_the_comment_once(session, calendar, team):
    repo = CaseRepository(session)
    case = _claimed(session, calendar, team.li)
    assert repo.awaiting_satisfaction("alice") is None  # still open
    repo.close(case, team.li, "已处理", T0 + 10 * MINUTE)
    assert repo.awaiting_satisfaction("alice") is case
    assert repo.add_satisfaction_comment(case, "很好", T0 + 11 * MINUTE) is False  # no score yet
    repo.record_satisfaction(case, 5, None, T0 + 11 * MINUTE)
    assert repo.awaiting_satisfaction("alice") is None
    assert repo.add_satisfaction_comment(case, " 很及时 ", T0 + 12 * MINUTE) is True
    assert repo.add_satisfaction_comment(case, "再说一句", T0 + 13 * MINUTE) is False
    assert case.satisfaction_comment == "很及时"
