"""Wiring of the action tests: the rasa-sdk classes are called directly (no
servers) with a tracker as Rasa would send it, against the test's database
and a clock stopped at FIXED.

Test modules import what they use, fixtures by name as with ``db_fixtures``:
``from action_fixtures import FIXED, actions_db, run, tracker_builder, unreachable_db``.
``actions_db`` needs ``database_url`` from ``db_fixtures`` in the same module.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Dict, Iterator, List, Optional
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.db.engine import dispose_engine
from bot.settings import ROOT, get_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 30 November 2026, 9:30: a working day (the test modules check it).
FIXED = datetime(2026, 11, 30, 9, 30, tzinfo=SHANGHAI)
DOMAIN: Dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


@contextmanager
def _actions_use(url: str) -> Iterator[None]:
    """DATABASE_URL is ``url`` (settings re-read) and the clock stands still at FIXED."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        patch.setattr("bot.clock.now", lambda: FIXED)
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def actions_db(database_url):
    """The actions' database is the test's (DATABASE_URL, settings re-read),
    and their clock stands still at FIXED (a test may move it with monkeypatch)."""
    with _actions_use(database_url):
        yield database_url


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_db(request, tmp_path):
    """DATABASE_URL names a database nobody answers for: a PostgreSQL port
    with no server, or a SQLite "file" that is a directory."""
    if request.param == "postgresql":
        url = "postgresql+psycopg2://postgres@127.0.0.1:1/bot"
    else:
        url = f"sqlite:///{tmp_path}"
    with _actions_use(url):
        yield url
    dispose_engine(url)


def tracker_builder(*, intent: str, form: str, sender: str = "alice") -> Callable[..., Tracker]:
    """A module's ``tracker(text, ...)``: by default the latest message has
    ``intent``, ``form`` is the active loop and ``sender`` is talking."""

    def tracker(
        text: str,
        *,
        sender: str = sender,
        intent: str = intent,
        requested_slot: Optional[str] = None,
        active_loop: Optional[str] = form,
        entities: Optional[List[dict]] = None,
        **slots: Any,
    ) -> Tracker:
        """The tracker Rasa sends: every domain slot, the latest message last."""
        unknown = set(slots) - set(DOMAIN["slots"])
        assert not unknown, f"not domain slots: {unknown}"
        values = {name: None for name in DOMAIN["slots"]}
        values.update(slots)
        values["requested_slot"] = requested_slot
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "entities": entities or [],
        }
        events = [
            {"event": "action", "name": "action_listen", "timestamp": 1.0},
            {"event": "user", "text": text, "parse_data": latest, "input_channel": "rest", "timestamp": 2.0},
        ]
        return Tracker(
            sender, values, latest, events, False, None,
            {"name": active_loop} if active_loop else {}, "action_listen",
        )

    return tracker


async def run(action, tracker: Tracker):
    """(messages as {"text", "buttons"}, events) of one run of ``action``."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    messages = []
    for message in dispatcher.messages:
        extra = {k: v for k, v in message.items() if k not in ("text", "buttons") and v}
        assert not extra, f"unexpected message content {extra}"
        messages.append({"text": message["text"], "buttons": message["buttons"]})
    return messages, events
