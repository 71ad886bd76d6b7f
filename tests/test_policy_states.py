"""bot.policy_states: the states of a conversation's history, replayed
incrementally, are exactly Rasa's, whatever the conversation does next."""
from __future__ import annotations

import copy
import json
import urllib.request
from datetime import timedelta

import pytest
from pydantic import ValidationError
from rasa.core.training import load_data
from rasa.shared.constants import DEFAULT_SENDER_ID
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActionReverted, Event, Restarted, SessionStarted, SlotSet,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import clock, policy_states
from bot.booking.calendar import get_calendar
from bot.chat import send
from bot.policy_states import PastStates
from bot.settings import ROOT, Settings

RASA_STATES = Domain.states_for_tracker_history  # Rasa's own, before any install


@pytest.fixture(scope="module")
def domain():
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def training_trackers(domain):
    """Every story and rule of our training data, as Rasa's training sees them."""
    return load_data(str(ROOT / "data"), domain, augmentation_factor=0)


def argument_sets(domain):
    """The arguments our policies pass: RulePolicy (all turns, with and
    without its rule-only data) and MemoizationPolicy (rule-only turns
    ignored), plus the slot-omitting variant Rasa's training uses."""
    rule_only = {"rule_only_slots": ["phone_last4", "appointment_confirmed"],
                 "rule_only_loops": ["satisfaction_comment_form"]}
    return [
        (False, False, None),
        (False, False, rule_only),
        (False, True, rule_only),
        (False, True, None),
        (True, False, None),
    ]


def prefixes(domain, sender, events):
    for end in range(1, len(events) + 1):
        yield DialogueStateTracker.from_events(sender, events[:end], domain.slots)


def assert_same_as_rasa(domain, past: PastStates, tracker) -> None:
    for arguments in argument_sets(domain):
        expected = RASA_STATES(domain, tracker, *arguments)
        got = past.states(domain, tracker, *arguments)
        assert got == expected, arguments
        # Callers change what they get (the featurizers delete text or
        # intent in place): none of it may reach what is remembered.
        for state in got:
            for sub_state in state.values():
                sub_state.clear()
            state.clear()


def test_every_prefix_of_every_story_and_rule_gives_rasas_states(domain, training_trackers):
    past = PastStates(size=100)
    assert len(training_trackers) >= 30
    calls = 0
    for number, training in enumerate(training_trackers):
        for tracker in prefixes(domain, f"story-{number}", list(training.events)):
            assert_same_as_rasa(domain, past, tracker)
            calls += 1
    stats = past.stats()
    # Most calls went on from where the last replay of their story stopped.
    assert stats["resumed"] > 3 * stats["replayed"], stats
    assert calls > 150


def as_rule_turns(events):
    """The events with every action but listening marked as a rule's turn
    that ML policies do not see (``hide_rule_turn``), as RulePolicy marks
    the actions it predicts from rule-only data."""
    marked = []
    for event in events:
        if isinstance(event, ActionExecuted) and event.action_name != "action_listen":
            event = copy.copy(event)
            event.hide_rule_turn = True
        marked.append(event)
    return marked


def long_conversation(training_trackers):
    """All stories one after another, every other one as hidden rule turns,
    with a rewind, an undone action, a restart and a new session on the way."""
    stories = [t for t in training_trackers if not t.is_rule_tracker]
    events = []
    for number, story in enumerate(stories):
        events.extend(as_rule_turns(story.events) if number % 2 else story.events)
        if number == 1:
            events.append(UserUtteranceReverted())
        if number == 2:
            events.append(ActionReverted())
        if number == 3:
            events.extend([Restarted(), ActionExecuted("action_listen")])
        if number == 4:
            events.extend([ActionExecuted("action_session_start"), SessionStarted(),
                           ActionExecuted("action_listen")])
    return events


def test_rewinds_restarts_and_new_sessions_give_rasas_states(domain, training_trackers):
    past = PastStates(size=100)
    events = long_conversation(training_trackers)
    for tracker in prefixes(domain, "long", events):
        assert_same_as_rasa(domain, past, tracker)
    # A rewind drops replayed events from the applied ones: replayed afresh.
    assert past.stats()["replayed"] > len(argument_sets(domain))


def test_a_rewritten_or_shortened_history_is_replayed_from_the_start(domain, training_trackers):
    past = PastStates(size=100)
    events = long_conversation(training_trackers)
    whole = DialogueStateTracker.from_events("rewritten", events, domain.slots)
    assert_same_as_rasa(domain, past, whole)
    replayed = past.stats()["replayed"]

    shorter = DialogueStateTracker.from_events("rewritten", events[: len(events) // 2], domain.slots)
    assert_same_as_rasa(domain, past, shorter)
    assert past.stats()["replayed"] == replayed + len(argument_sets(domain))

    # A slot slipped into the middle of the replayed history: replayed afresh.
    changed = list(events[: len(events) // 2])
    middle = next(i for i in range(len(changed) // 2, len(changed))
                  if isinstance(changed[i], ActionExecuted))
    changed.insert(middle, SlotSet("branch", "滨江支行", timestamp=changed[middle].timestamp))
    assert_same_as_rasa(domain, past, DialogueStateTracker.from_events("rewritten", changed, domain.slots))
    assert past.stats()["replayed"] == replayed + 2 * len(argument_sets(domain))


def test_conversations_do_not_mix_and_the_oldest_is_forgotten(domain, training_trackers):
    past = PastStates(size=2)
    stories = [t for t in training_trackers if not t.is_rule_tracker][:3]
    for number, story in enumerate(stories):
        tracker = DialogueStateTracker.from_events(f"c{number}", list(story.events), domain.slots)
        assert past.states(domain, tracker) == RASA_STATES(domain, tracker)
    assert past.stats()["conversations"] == 2
    # Another conversation with the same sender id but other events, and
    # another domain object: both replayed, both Rasa's states.
    other = DialogueStateTracker.from_events("c2", list(stories[0].events), domain.slots)
    assert past.states(domain, other) == RASA_STATES(domain, other)
    copy_of_domain = Domain.load(ROOT / "domain.yml")
    assert past.states(copy_of_domain, other) == RASA_STATES(copy_of_domain, other)
    assert past.stats()["resumed"] == 0


def test_the_replay_tracker_keeps_only_the_latest_event(domain):
    tracker = DialogueStateTracker.from_events(None, [ActionExecuted("action_listen")], domain.slots)
    replay = policy_states.fresh_replay_tracker(tracker)
    for event in [ActionExecuted("action_listen"), SlotSet("branch", "滨江支行"),
                  ActionExecuted("utter_greet")]:
        replay.update(event)
    assert replay.sender_id == DEFAULT_SENDER_ID and len(replay.events) == 1
    assert replay.get_slot("branch") == "滨江支行" and replay.latest_action_name == "utter_greet"


def test_size_zero_replays_every_call_as_rasa_does(domain, training_trackers):
    past = PastStates(size=0)
    story = next(t for t in training_trackers if not t.is_rule_tracker)
    for tracker in prefixes(domain, "no-cache", list(story.events)):
        assert past.states(domain, tracker) == RASA_STATES(domain, tracker)
    assert past.stats()["resumed"] == 0 and past.stats()["conversations"] == 0


def test_the_size_is_a_setting(monkeypatch):
    monkeypatch.delenv("BOT_POLICY_STATE_CACHE_SIZE", raising=False)
    assert Settings().policy_state_cache_size == 4_000
    monkeypatch.setenv("BOT_POLICY_STATE_CACHE_SIZE", "0")
    assert Settings().policy_state_cache_size == 0
    monkeypatch.setenv("BOT_POLICY_STATE_CACHE_SIZE", "-1")
    with pytest.raises(ValidationError, match="policy_state_cache_size"):
        Settings()


def test_install_replaces_rasas_method_once():
    before = Domain.states_for_tracker_history
    try:
        policy_states.install()
        installed = Domain.states_for_tracker_history
        policy_states.install()
        assert installed is Domain.states_for_tracker_history
        assert getattr(installed, "incremental", False) and installed is not RASA_STATES
    finally:
        Domain.states_for_tracker_history = before


@pytest.mark.server
def test_a_served_conversation_gives_rasas_states_at_every_turn(bot, sender, domain):
    """The events a real conversation leaves (an FAQ answer, the booking
    form to its summary, a fallback), replayed turn by turn."""
    calendar, day = get_calendar(), clock.now().date() + timedelta(days=3)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    for text in ["你好", "开户需要带什么材料", "我想预约开户", "滨江支行",
                 f"{day.month}月{day.day}日上午10点", "13812345678", "啊啊啊啊", "谢谢"]:
        assert send(bot.rasa_url, sender, text)
    url = f"{bot.rasa_url}/conversations/{sender}/tracker"
    with urllib.request.urlopen(url, timeout=30) as response:
        events = [Event.from_parameters(e) for e in json.load(response)["events"]]
    assert any(isinstance(e, SlotSet) and e.key == "branch" for e in events)
    past = PastStates(size=100)
    for tracker in prefixes(domain, sender, events):
        assert_same_as_rasa(domain, past, tracker)
