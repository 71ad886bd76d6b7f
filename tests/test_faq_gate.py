"""The gate turns an unsure FAQ answer into a fallback, and nothing else."""
from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.faq_gate import FaqConfidenceGate


def message(intent: str, *confidences: float) -> Message:
    ranking = [
        {"intent_response_key": f"faq/entry_{i}", "confidence": c}
        for i, c in enumerate(confidences)
    ]
    return Message(
        {
            "text": "问题",
            "intent": {"name": intent, "confidence": 0.99},
            "intent_ranking": [{"name": intent, "confidence": 0.99}],
            "response_selector": {"faq": {"ranking": ranking}},
        }
    )


def gate() -> FaqConfidenceGate:
    return FaqConfidenceGate({**FaqConfidenceGate.get_default_config(), "threshold": 0.4})


def intent_after_gate(msg: Message) -> str:
    return gate().process([msg])[0].get("intent")["name"]


def test_a_confident_answer_passes():
    assert intent_after_gate(message("faq", 0.9, 0.05)) == "faq"


def test_a_weak_answer_falls_back():
    assert intent_after_gate(message("faq", 0.35, 0.2)) == "nlu_fallback"


def test_two_equally_likely_answers_fall_back():
    assert intent_after_gate(message("faq", 0.46, 0.44)) == "nlu_fallback"


def test_the_fallback_keeps_the_original_ranking_behind_it():
    msg = gate().process([message("faq", 0.3, 0.2)])[0]
    assert [i["name"] for i in msg.get("intent_ranking")] == ["nlu_fallback", "faq"]


def test_other_intents_are_left_alone():
    assert intent_after_gate(message("greet", 0.3, 0.29)) == "greet"
