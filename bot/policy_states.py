"""Remember the dialogue states of a conversation's past turns.

Before every prediction Rasa's policies turn the conversation into a list of
states, one per action taken so far (``Domain.states_for_tracker_history``),
and it does so from scratch: it replays every event of the conversation into
a fresh tracker and builds a state at each action. Our two policies ask for
it 5 to 7 times per customer message, with 4 to 6 different arguments, and
the cost grows with the conversation (py-spy: 10% of the Rasa server's time
at 10 concurrent conversations; 1.4 ms per message with 10–13 events, about
2 ms with 21–44).

A past turn's state depends on the events before it alone, so this module
keeps, per conversation and per set of arguments, where the last replay
stopped (the replayed tracker, the states so far and the loop's two
variables) and replays only the events added since. It resumes only when the
events it replayed are still, in order, the first events the conversation
applies now (compared by type, timestamp and name); anything else (a rewind,
a restart, a session start, a rewritten or shortened history, another
model's domain) replays from the start, exactly like Rasa.

The loop below is Rasa 3.6's ``states_for_tracker_history``, step for step;
``tests/test_policy_states.py`` holds it to Rasa's own result on every
prefix of every story and rule of our training data. Callers change the
states they get (the featurizers delete a turn's text or intent in place),
so each call hands out its own copy, with the same sharing between states
as Rasa's, and the remembered states stay as built.

Installed by ``bot.rasa_server``; per process, bounded
(``BOT_POLICY_STATE_CACHE_SIZE`` replays, 4,000 by default: the least recently
used are forgotten; 0 replays every call, as Rasa does). Rasa's policies run
on the event loop's thread; a lock keeps other threads safe.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Hashable, List, Optional, Tuple

from bot.settings import get_settings


@dataclass
class Replay:
    """Where one conversation's replay stopped."""

    domain: Any
    tracker: Any                    # the replayed tracker after `keys`
    keys: List[Tuple[Any, ...]] = field(default_factory=list)  # the events replayed
    states: List[dict] = field(default_factory=list)           # one per action replayed
    last_ml_action: Optional[dict] = None
    turn_was_hidden: bool = False


def event_key(event: Any) -> Tuple[Any, ...]:
    name = getattr(event, "action_name", None) or getattr(event, "key", None) \
        or getattr(event, "text", None)
    return type(event), event.timestamp, name


class PastStates:
    """States of conversations' history, replayed incrementally."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.resumed = 0
        self.replayed = 0
        self._replays: "OrderedDict[Hashable, Replay]" = OrderedDict()
        self._last_applied: Optional[tuple] = None
        self._lock = threading.Lock()

    def _applied_events(self, tracker) -> Tuple[list, List[Tuple[Any, ...]]]:
        """The tracker's applied events and their keys, worked out once for
        the several calls the policies make about the same tracker (events
        are only ever appended to a tracker, so its length and last event
        tell whether it changed)."""
        events = tracker.events
        last = events[-1] if events else None
        memo = self._last_applied
        if memo is not None and memo[0] is tracker and memo[1] == len(events) and memo[2] is last:
            return memo[3], memo[4]
        applied = tracker.applied_events()
        keys = [event_key(event) for event in applied]
        self._last_applied = (tracker, len(events), last, applied, keys)
        return applied, keys

    def states(self, domain, tracker, omit_unset_slots: bool = False,
               ignore_rule_only_turns: bool = False,
               rule_only_data: Optional[Dict[str, Any]] = None) -> List[dict]:
        from rasa.shared.core.events import ActionExecuted

        key = (tracker.sender_id, type(tracker), omit_unset_slots, ignore_rule_only_turns,
               json.dumps(rule_only_data, sort_keys=True, default=str))
        with self._lock:
            applied, keys = self._applied_events(tracker)
            replay = self._replays.pop(key, None)
        if (replay is None or replay.domain is not domain or len(replay.keys) > len(keys)
                or keys[:len(replay.keys)] != replay.keys):
            replay = Replay(domain=domain, tracker=fresh_replay_tracker(tracker))
            self.replayed += 1
        else:
            self.resumed += 1

        step = _Step(domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        for event in applied[len(replay.keys):]:
            if isinstance(event, ActionExecuted):
                step(replay, event.hide_rule_turn)
            replay.tracker.update(event)
        replay.keys = keys

        # The state of the tracker as it is now: computed on a copy of the
        # loop's variables, as the replay goes on from before it next time.
        now = Replay(domain, replay.tracker, states=list(replay.states),
                     last_ml_action=replay.last_ml_action, turn_was_hidden=replay.turn_was_hidden)
        step(now, False)
        with self._lock:
            self._replays[key] = replay
            while len(self._replays) > self.size:
                self._replays.popitem(last=False)
        return copy_states(now.states)

    def stats(self) -> Dict[str, int]:
        return {"resumed": self.resumed, "replayed": self.replayed,
                "conversations": len(self._replays), "size": self.size}


class _Step:
    """The body of Rasa 3.6's ``Domain.states_for_tracker_history`` loop, for
    the tracker as it was before one action (or as it is now)."""

    def __init__(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data):
        self.domain = domain
        self.omit_unset_slots = omit_unset_slots
        self.ignore_rule_only_turns = ignore_rule_only_turns
        self.rule_only_data = rule_only_data

    def __call__(self, replay: Replay, hide_rule_turn: bool) -> None:
        from rasa.shared.core.constants import PREVIOUS_ACTION

        domain, tr, states = self.domain, replay.tracker, replay.states
        if self.ignore_rule_only_turns:
            if not replay.turn_was_hidden:
                replay.last_ml_action = domain._get_prev_action_sub_state(tr)
            if not tr.followup_action and not tr.latest_action_name == tr.active_loop_name:
                replay.turn_was_hidden = hide_rule_turn
            if replay.turn_was_hidden:
                return

        state = domain.get_active_state(tr, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if replay.last_ml_action:
                state[PREVIOUS_ACTION] = replay.last_ml_action
        states.append(domain._clean_state(state))


def fresh_replay_tracker(tracker):
    """``tracker.init_copy()`` that keeps only the latest event: a state is
    built from the tracker's slots, latest message, action and loop, never
    from its event list, and the events replayed (Rasa's applied events)
    never include the rewinds and restarts that replay that list. Without
    this, every conversation kept here would hold all its events again."""
    from rasa.shared.constants import DEFAULT_SENDER_ID
    from rasa.shared.core.trackers import DialogueStateTracker

    return DialogueStateTracker(
        tracker.sender_id or DEFAULT_SENDER_ID, tracker.slots.values(), 1,
        is_rule_tracker=tracker.is_rule_tracker,
    )


def copy_states(states: List[dict]) -> List[dict]:
    """A copy of states down to their sub-states (the dictionaries callers
    change), where a sub-state shared between two states stays shared."""
    copies: Dict[int, dict] = {}

    def copied(sub_state):
        if not isinstance(sub_state, dict):
            return sub_state
        found = copies.get(id(sub_state))
        if found is None:
            found = copies[id(sub_state)] = dict(sub_state)
        return found

    return [{name: copied(sub_state) for name, sub_state in state.items()} for state in states]


_past_states: Optional[PastStates] = None


def process_past_states() -> PastStates:
    global _past_states
    if _past_states is None:
        _past_states = PastStates(get_settings().policy_state_cache_size)
    return _past_states


def install() -> None:
    """Answer Rasa's ``Domain.states_for_tracker_history`` from the replays."""
    from rasa.shared.core.domain import Domain

    if getattr(Domain.states_for_tracker_history, "incremental", False):
        return

    def states_for_tracker_history(self, tracker, omit_unset_slots=False,
                                   ignore_rule_only_turns=False, rule_only_data=None):
        return process_past_states().states(
            self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)

    states_for_tracker_history.incremental = True
    Domain.states_for_tracker_history = states_for_tracker_history
