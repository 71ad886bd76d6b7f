"""bot.tracker_store: the in-memory store that keeps recent trackers as
objects hands out exactly what Rasa's in-memory store hands out, turn after
turn, and nothing a caller changes reaches it unless saved."""
from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.core.training import load_data
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot import tracker_store
from bot.settings import ROOT, Settings, get_settings
from bot.tracker_store import RecentTrackerStore, copy_tracker

RASA_IN_MEMORY = InMemoryTrackerStore  # Rasa's own, before any install


class RecordingBroker(EventBroker):
    """An event broker that keeps what it is given, as the handoff relay would."""

    def __init__(self) -> None:
        self.published = []

    def publish(self, event) -> None:
        self.published.append(event)


@pytest.fixture(scope="module")
def domain():
    return Domain.load(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def stories(domain):
    trackers = load_data(str(ROOT / "data"), domain, augmentation_factor=0)
    return [t for t in trackers if not t.is_rule_tracker]


def turns(events):
    """Events cut where the bot starts listening: what one message adds."""
    turn = []
    for event in events:
        turn.append(event)
        if isinstance(event, ActionExecuted) and event.action_name == "action_listen":
            yield turn
            turn = []
    if turn:
        yield turn


def seen(tracker: DialogueStateTracker, domain) -> dict:
    """Everything a caller can read off a tracker."""
    return {
        "state": tracker.current_state(EventVerbosity.ALL),
        "past_states": tracker.past_states(domain),
        "applied": [e.as_dict() for e in tracker.applied_events()],
        "sender": tracker.sender_id,
        "slots": {name: slot.value for name, slot in tracker.slots.items()},
    }


async def hold_conversation(store, sender, events):
    """For each turn: fetch the tracker, add the turn's events, save; the
    tracker as fetched before each turn is what the policies would see."""
    fetched = []
    for turn in turns(events):
        tracker = await store.retrieve(sender) or store.init_tracker(sender)
        fetched.append(tracker)
        for event in turn:
            tracker.update(event)
        await store.save(tracker)
    fetched.append(await store.retrieve(sender))
    return fetched


def test_every_turn_of_every_story_is_handed_out_as_rasas_store_hands_it_out(domain, stories):
    ours, rasas = RecentTrackerStore(domain), RASA_IN_MEMORY(domain)
    compared = 0
    for number, story in enumerate(stories):
        events = list(story.events)
        got = asyncio.run(hold_conversation(ours, f"c{number}", events))
        want = asyncio.run(hold_conversation(rasas, f"c{number}", events))
        assert [seen(t, domain) for t in got] == [seen(t, domain) for t in want]
        compared += len(got)
    assert compared >= 3 * len(stories)
    assert ours.stats()["kept"] == len(stories)


def test_changes_that_are_not_saved_never_reach_the_store(domain, stories):
    store = RecentTrackerStore(domain)
    asyncio.run(hold_conversation(store, "unsaved", list(stories[0].events)))
    before = seen(asyncio.run(store.retrieve("unsaved")), domain)

    tracker = asyncio.run(store.retrieve("unsaved"))
    tracker.update(UserUttered("我想预约开户", intent={"name": "book_appointment", "confidence": 1.0}))
    tracker.update(ActiveLoop("appointment_form"))
    tracker.update(SlotSet("branch", "滨江支行"))
    tracker.active_loop.is_interrupted = True
    tracker.latest_action["action_name"] = "changed"
    tracker.slots["branch"].value = "changed"
    tracker.clear_followup_action()

    assert seen(asyncio.run(store.retrieve("unsaved")), domain) == before


def test_the_event_broker_gets_each_new_event_once_as_from_rasas_store(domain, stories):
    ours_broker, rasas_broker = RecordingBroker(), RecordingBroker()
    ours = RecentTrackerStore(domain, ours_broker)
    rasas = RASA_IN_MEMORY(domain, rasas_broker)
    for number, story in enumerate(stories[:5]):
        asyncio.run(hold_conversation(ours, f"b{number}", list(story.events)))
        asyncio.run(hold_conversation(rasas, f"b{number}", list(story.events)))
    assert ours_broker.published == rasas_broker.published
    assert len(ours_broker.published) == sum(len(s.events) for s in stories[:5])


def two_sessions(stories):
    events = list(stories[0].events)
    events += [ActionExecuted("action_session_start"), SessionStarted(),
               ActionExecuted("action_listen")]
    return events + [e for e in stories[1].events if not isinstance(e, SessionStarted)]


def test_a_conversation_of_two_sessions_is_handed_out_as_rasa_does(domain, stories):
    events = two_sessions(stories)
    ours, rasas = RecentTrackerStore(domain), RASA_IN_MEMORY(domain)
    for store in (ours, rasas):
        tracker = DialogueStateTracker.from_events("sessions", events, domain.slots)
        asyncio.run(store.save(tracker))
    last_session = asyncio.run(ours.retrieve("sessions"))
    assert seen(last_session, domain) == seen(asyncio.run(rasas.retrieve("sessions")), domain)
    assert len(last_session.events) < len(events)
    whole = asyncio.run(ours.retrieve_full_tracker("sessions"))
    assert seen(whole, domain) == seen(asyncio.run(rasas.retrieve_full_tracker("sessions")), domain)
    assert len(whole.events) == len(events)


def test_only_the_most_recent_conversations_are_kept_and_the_others_come_from_json(domain, stories):
    ours, rasas = RecentTrackerStore(domain, recent=2), RASA_IN_MEMORY(domain)
    for number, story in enumerate(stories[:4]):
        for store in (ours, rasas):
            asyncio.run(hold_conversation(store, f"r{number}", list(story.events)))
    assert ours.stats() == {"kept": 2, "recent": 2, "stored": 4}
    for number in range(4):
        assert (seen(asyncio.run(ours.retrieve(f"r{number}")), domain)
                == seen(asyncio.run(rasas.retrieve(f"r{number}")), domain))
    assert asyncio.run(ours.retrieve("nobody")) is None
    nothing_kept = RecentTrackerStore(domain, recent=0)
    asyncio.run(hold_conversation(nothing_kept, "r0", list(stories[0].events)))
    assert nothing_kept.stats()["kept"] == 0
    assert seen(asyncio.run(nothing_kept.retrieve("r0")), domain) == seen(asyncio.run(rasas.retrieve("r0")), domain)


def test_a_copied_tracker_shares_no_container_with_the_original(domain, stories):
    original = DialogueStateTracker.from_events("copy", list(stories[0].events), domain.slots)
    original.update(ActiveLoop("appointment_form"))
    copied = copy_tracker(original)
    for name, value in vars(original).items():
        if isinstance(value, (dict, list, set)) or name in ("events", "active_loop"):
            assert getattr(copied, name) is not value, name
    assert all(copied.slots[name] is not slot for name, slot in original.slots.items())
    assert seen(copied, domain) == seen(original, domain)


def test_the_number_kept_is_a_setting(monkeypatch, domain):
    monkeypatch.delenv("BOT_TRACKER_CACHE_SIZE", raising=False)
    assert Settings().tracker_cache_size == 2_000
    monkeypatch.setenv("BOT_TRACKER_CACHE_SIZE", "-5")
    with pytest.raises(ValidationError, match="tracker_cache_size"):
        Settings()
    monkeypatch.setenv("BOT_TRACKER_CACHE_SIZE", "7")
    get_settings.cache_clear()
    try:
        assert RecentTrackerStore(domain).recent == 7
    finally:
        get_settings.cache_clear()


def test_install_makes_rasa_create_this_store_without_a_tracker_store_configured(domain):
    import rasa.core.tracker_store as rasa_stores

    try:
        tracker_store.install()
        created = rasa_stores.TrackerStore.create(None, domain)
        assert isinstance(created, RecentTrackerStore)
    finally:
        rasa_stores.InMemoryTrackerStore = RASA_IN_MEMORY


@pytest.mark.server
def test_the_served_bot_keeps_its_trackers_in_this_store(bot):
    log = (bot.log_dir / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "tracker store: in memory, the last 2000 conversations kept as objects" in log
