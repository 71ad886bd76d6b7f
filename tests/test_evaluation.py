"""The held-out scorer (bot.evaluation.Report) on hand-made parses: the same
rule for any pipeline, decided from the parse alone."""
from __future__ import annotations

import pytest

from bot.evaluation import (
    FALLBACK,
    SUGGESTION_MIN_CONFIDENCE,
    SUGGESTIONS,
    Case,
    Report,
    short_label,
    suggested_faq_ids,
)


def parse(final: str, faq_ids=(), underlying: str = None, confidences=None) -> dict:
    """A Rasa parse: final intent, the classifier's intent under a fallback,
    and the ResponseSelector's ranking (best first)."""
    underlying = underlying or final
    confidences = confidences or [0.6 - 0.1 * i for i in range(len(faq_ids))]
    ranking = [{"name": underlying, "confidence": 0.8}]
    if final == FALLBACK:
        ranking.insert(0, {"name": FALLBACK, "confidence": 0.3})
    return {
        "intent": {"name": final, "confidence": ranking[0]["confidence"]},
        "intent_ranking": ranking,
        "response_selector": {"faq": {"ranking": [
            {"intent_response_key": f"faq/{faq_id}", "confidence": c}
            for faq_id, c in zip(faq_ids, confidences)
        ]}},
    }


def test_suggestion_settings_mirror_action_clarify():
    from actions import action_clarify

    assert SUGGESTIONS == action_clarify.SUGGESTIONS
    assert SUGGESTION_MIN_CONFIDENCE == action_clarify.MIN_SUGGESTION_CONFIDENCE


def test_direct_answers_right_and_wrong():
    report = Report()
    report.add(Case("q1", "faq", "a"), parse("faq", ["a", "b"]))
    report.add(Case("q2", "faq", "a"), parse("faq", ["b", "a"]))
    assert (report.faq_top1, report.faq_answered_right, report.faq_answered_wrong) == (1, 1, 1)
    assert report.answered_right_rate == report.answered_wrong_rate == 0.5
    assert report.did_you_mean_rate == 0.0


@pytest.mark.parametrize("underlying", ["faq", "greet"])
def test_any_fallback_is_a_did_you_mean_whoever_raised_it(underlying):
    """Our gate (faq under the fallback) and Rasa's FallbackClassifier (any
    intent under it) are counted alike."""
    report = Report()
    report.add(Case("q", "faq", "a"), parse(FALLBACK, ["b", "c", "a", "d"], underlying=underlying))
    assert report.faq_clarified == 1
    assert report.faq_clarified_with_right_in_top3 == 1
    assert report.did_you_mean_rate == 1.0
    assert report.faq_top1 == 0


def test_right_entry_fourth_is_not_among_the_buttons():
    report = Report()
    report.add(Case("q", "faq", "a"), parse(FALLBACK, ["b", "c", "d", "a"], underlying="faq"))
    assert (report.faq_clarified, report.faq_clarified_with_right_in_top3) == (1, 0)


def test_no_buttons_when_the_best_candidate_is_noise():
    weak = parse(FALLBACK, ["a", "b"], underlying="faq", confidences=[0.04, 0.03])
    assert suggested_faq_ids(weak) == []
    report = Report()
    report.add(Case("q", "faq", "a"), weak)
    assert (report.faq_clarified, report.faq_clarified_with_right_in_top3) == (1, 0)
    assert report.faq_top1 == 1  # still ranked first, only not offered


def test_intent_accuracy_looks_through_the_fallback():
    report = Report()
    report.add(Case("q1", "greet"), parse(FALLBACK, underlying="greet"))
    report.add(Case("q2", "greet"), parse("thanks"))
    report.add(Case("q3", "faq", "a"), parse(FALLBACK, ["b"], underlying="faq"))
    assert (report.intent_right, report.intent_total) == (2, 3)
    assert (report.other_right, report.other_total) == (0, 2)  # the final intent counts there


def test_out_of_scope_precision_and_recall():
    report = Report()
    report.add(Case("o1", "out_of_scope"), parse("out_of_scope"))
    report.add(Case("o2", "out_of_scope"), parse("faq", ["a"]))
    report.add(Case("q", "faq", "a"), parse("out_of_scope", ["a"]))
    assert report.oos_precision == 0.5 and report.oos_recall == 0.5
    assert report.oos_given_handbook_answer == 1


def test_other_intent_and_out_of_scope_misses_are_counted_by_label():
    report = Report()
    report.add(Case("o1", "out_of_scope"), parse(FALLBACK, ["a"], underlying="faq"))
    report.add(Case("o2", "out_of_scope"), parse(FALLBACK, ["a"], underlying="faq"))
    report.add(Case("o3", "out_of_scope"), parse("out_of_scope"))
    report.add(Case("g1", "goodbye"), parse("greet"))
    report.add(Case("g2", "goodbye"), parse("goodbye"))
    assert report.top_intent_confusions() == [
        ("out_of_scope", FALLBACK, "faq", 2),
        ("goodbye", "greet", "greet", 1),
    ]
    assert report.top_intent_confusions(1) == report.top_intent_confusions()[:1]


def test_summary_has_the_rates_and_no_texts():
    report = Report()
    report.add(Case("某个问题", "faq", "a"), parse("faq", ["b"]))
    summary = report.summary()
    assert summary["faq_did_you_mean_rate"] == 0.0
    assert summary["faq_answered_wrong_rate"] == 1.0
    assert "某个问题" not in repr(summary)


def test_short_labels():
    assert short_label("faq/card_loss") == "card_loss"
    assert short_label("out_of_scope") == "<out_of_scope>"


def test_text_lists_the_most_frequent_confusions_first():
    report = Report()
    report.add(Case("q1", "faq", "a"), parse("faq", ["b"]))
    report.add(Case("q2", "faq", "c"), parse("faq", ["d"]))
    report.add(Case("q3", "faq", "c"), parse("faq", ["d"]))
    text = report.text(misses=0)
    assert text.index("2 x faq/c -> faq/d") < text.index("1 x faq/a -> faq/b")
