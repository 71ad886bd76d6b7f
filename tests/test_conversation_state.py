"""What actions read off the tracker: fallbacks in a row, the answered entry."""
from __future__ import annotations

from rasa_sdk import Tracker

from actions.conversation import answered_faq_id, consecutive_fallbacks, faq_candidates


def user(intent: str, **parse) -> dict:
    return {"event": "user", "text": "x", "parse_data": {"intent": {"name": intent}, **parse}}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def tracker(events, latest=None) -> Tracker:
    return Tracker("c", {}, latest or {}, events, False, None, {}, "action_listen")


def test_counts_only_the_latest_run_of_fallbacks():
    events = [
        user("nlu_fallback"), action("action_clarify"), action("action_listen"),
        user("greet"), action("utter_greet"), action("action_listen"),
        user("nlu_fallback"), action("action_clarify"), action("action_listen"),
        user("nlu_fallback"),
    ]
    assert consecutive_fallbacks(tracker(events)) == 2


def test_none_of_these_neither_counts_nor_breaks_the_run():
    events = [
        user("nlu_fallback"), action("action_clarify"), action("action_listen"),
        user("deny"), action("utter_rephrase"), action("action_listen"),
        user("nlu_fallback"),
    ]
    assert consecutive_fallbacks(tracker(events)) == 2


def test_a_plain_no_breaks_the_run():
    events = [
        user("nlu_fallback"), action("utter_offer_human"), action("action_listen"),
        user("deny"), action("utter_anything_else"), action("action_listen"),
        user("nlu_fallback"),
    ]
    assert consecutive_fallbacks(tracker(events)) == 1


def test_reads_the_selected_entry_and_the_candidates():
    latest = {
        "response_selector": {
            "faq": {
                "response": {"intent_response_key": "faq/service_hours"},
                "ranking": [
                    {"intent_response_key": "faq/service_hours", "confidence": 0.5},
                    {"intent_response_key": "faq/hotline", "confidence": 0.3},
                    {"intent_response_key": "faq/holiday_service", "confidence": 0.1},
                    {"intent_response_key": "faq/fee_types", "confidence": 0.01},
                ],
            }
        }
    }
    t = tracker([], latest)
    assert answered_faq_id(t) == "service_hours"
    assert faq_candidates(t, 3, 0.05) == ["service_hours", "hotline", "holiday_service"]
    assert faq_candidates(t, 3, 0.6) == []
    assert answered_faq_id(tracker([], {})) is None
