"""What actions need to know about the conversation so far (from tracker events)."""
from __future__ import annotations

from typing import Iterable, List, Optional

from rasa_sdk import Tracker

from bot.script import Script, customer_script, to_simplified

NLU_FALLBACK = "nlu_fallback"
CLARIFY_ACTION = "action_clarify"


def script_of(tracker: Tracker) -> Script:
    texts = (
        event.get("text") or ""
        for event in reversed(tracker.events)
        if event.get("event") == "user"
    )
    return customer_script(texts)


def _user_turns(events: Iterable[dict]) -> List[tuple]:
    """(intent, the bot action right before it) for every user message."""
    turns, last_action = [], None
    for event in events:
        if event.get("event") == "action" and event.get("name") != "action_listen":
            last_action = event.get("name")
        elif event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            turns.append((intent, last_action))
    return turns


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the bot failed to understand.

    A failure is a message NLU could not place (nlu_fallback). A "都不是"
    answer to the bot's "您是不是想问" suggestions neither counts nor breaks
    the run: the customer is asked to rephrase, and a second miss offers a
    human.
    """
    count = 0
    for intent, previous_action in reversed(_user_turns(tracker.events)):
        if intent == NLU_FALLBACK:
            count += 1
        elif not (intent == "deny" and previous_action == CLARIFY_ACTION):
            break
    return count


def answered_faq_id(tracker: Tracker) -> Optional[str]:
    """The library entry the ResponseSelector chose for the latest message."""
    selected = (tracker.latest_message.get("response_selector") or {}).get("faq") or {}
    key = (selected.get("response") or {}).get("intent_response_key") or ""
    return key.split("/", 1)[1] if key.startswith("faq/") else None


def faq_candidates(tracker: Tracker, limit: int, min_confidence: float) -> List[str]:
    """The top `limit` library entries for the latest message, best first; none
    when even the best scores below `min_confidence` (then they are noise)."""
    selected = (tracker.latest_message.get("response_selector") or {}).get("faq") or {}
    ranking = [
        candidate
        for candidate in selected.get("ranking") or []
        if (candidate.get("intent_response_key") or "").startswith("faq/")
    ]
    if not ranking or ranking[0].get("confidence", 0.0) < min_confidence:
        return []
    return [c["intent_response_key"].split("/", 1)[1] for c in ranking[:limit]]


def latest_text(tracker: Tracker) -> str:
    """The latest customer message in Simplified script, as typed otherwise
    (numbers and times are read from it, not from NLU entities)."""
    return to_simplified(tracker.latest_message.get("text") or "")


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def channel_of(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "unknown"


def task_candidate(tracker: Tracker, task_intents: Iterable[str], min_confidence: float) -> Optional[str]:
    """The self-service task (book, look up…) the customer may mean: the best
    task intent, when NLU ranks it first behind the fallback or it scores at
    least ``min_confidence``."""
    ranking = [
        c for c in tracker.latest_message.get("intent_ranking") or [] if c.get("name") != NLU_FALLBACK
    ]
    tasks = set(task_intents)
    for position, candidate in enumerate(ranking):
        if candidate.get("name") in tasks:
            if position == 0 or candidate.get("confidence", 0.0) >= min_confidence:
                return candidate["name"]
            return None
    return None
