"""Rasa's in-memory tracker store, without rebuilding a recent conversation
from its JSON for every message.

Rasa's ``InMemoryTrackerStore`` keeps each conversation as JSON text and, to
hand a tracker out, parses the text, turns every event back into an object
and replays them all into a new tracker; then it splits the conversation
into sessions, which replays them once more. Every customer message costs
that at least once (py-spy at 50 concurrent conversations: the store's
retrieve took 11.3% of the Rasa server's time, the parsing and rebuilding
alone 10.6%).

``RecentTrackerStore`` is that store, JSON and all, and also keeps, for the
most recently saved conversations, a private copy of the tracker as it was
saved (``BOT_TRACKER_CACHE_SIZE``, 2,000 by default; 0 keeps none). A
retrieve hands out a copy of that copy: a new tracker object with
the same events, its own slots, loop and latest action, and nothing it
could change shared with the kept one. So a caller that changes a tracker
and never saves it (a failed turn, a prediction through the HTTP API) leaves
the store as Rasa's would: the next retrieve gets the tracker as last saved.

Everything else is Rasa's: save streams the new events to the event broker
(the handoff relay) and keeps the JSON; a conversation not kept, or one
with more than one session, is rebuilt from the JSON exactly as Rasa does;
``retrieve_full_tracker`` too. It is per process and memory only, like
Rasa's; the scale-out deployment uses the SQL tracker store instead.

Installed by ``bot.rasa_server`` as the store Rasa creates when the
endpoints name none (the embedded deployment).
"""
from __future__ import annotations

import copy
import dataclasses
import logging
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, split_events
from rasa.shared.core.trackers import DialogueStateTracker, get_trackers_for_conversation_sessions

from bot.settings import get_settings

logger = logging.getLogger(__name__)


class RecentTrackerStore(InMemoryTrackerStore):
    """Rasa's in-memory tracker store, with the recently saved trackers kept
    as objects (see the module's docstring)."""

    def __init__(self, domain, event_broker=None, recent: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.recent = get_settings().tracker_cache_size if recent is None else recent
        self._kept: "OrderedDict[str, Tuple[DialogueStateTracker, bool]]" = OrderedDict()
        logger.info("tracker store: in memory, the last %d conversations kept as objects", self.recent)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        if self.recent <= 0:
            return
        self._kept[tracker.sender_id] = (copy_tracker(tracker), several_sessions(tracker))
        self._kept.move_to_end(tracker.sender_id)
        while len(self._kept) > self.recent:
            self._kept.popitem(last=False)

    async def _retrieve(self, sender_id: str, fetch_all_sessions: bool) -> Optional[DialogueStateTracker]:
        kept = self._kept.get(sender_id)
        if kept is None or sender_id not in self.store:
            return await super()._retrieve(sender_id, fetch_all_sessions)
        self._kept.move_to_end(sender_id)
        tracker, sessions = kept
        if sessions and not fetch_all_sessions:  # Rasa hands out the last session only
            return get_trackers_for_conversation_sessions(copy_tracker(tracker))[-1]
        return copy_tracker(tracker)

    def stats(self) -> Dict[str, int]:
        return {"kept": len(self._kept), "recent": self.recent, "stored": len(self.store)}


def several_sessions(tracker: DialogueStateTracker) -> bool:
    """Whether Rasa would split the tracker into more than one session
    (``get_trackers_for_conversation_sessions``, without building them)."""
    return len(split_events(tracker.events, ActionExecuted,
                            {"action_name": ACTION_SESSION_START_NAME},
                            include_splitting_event=True)) > 1


def copy_tracker(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """A tracker in the same state as ``tracker`` that shares nothing the
    tracker's own methods change: a new event list (the events themselves,
    which Rasa never changes once applied, are shared), copies of the slots,
    the active loop and every dictionary or list it holds. Much cheaper than Rasa's
    ``copy()``, which replays every event."""
    copied = DialogueStateTracker.__new__(type(tracker))
    for name, value in vars(tracker).items():
        if name == "events":
            value = tracker._create_events(list(value))
        elif name == "slots":
            slots = type(value)()
            slots.update((slot_name, copy.copy(slot)) for slot_name, slot in value.items())
            value = slots
        elif isinstance(value, (dict, list, set)):
            value = type(value)(value)
        elif dataclasses.is_dataclass(value):  # the active loop, changed in place
            value = copy.copy(value)
        setattr(copied, name, value)
    return copied


def install() -> None:
    """Make Rasa create this store where it would create its in-memory one
    (no ``tracker_store`` in the endpoints)."""
    import rasa.core.tracker_store as rasa_stores

    rasa_stores.InMemoryTrackerStore = RecentTrackerStore
