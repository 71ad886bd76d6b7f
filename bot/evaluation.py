"""Score NLU predictions against labelled lines (shared by the evaluate command,
the tuning command and the accuracy test).

A prediction is Rasa's parse result for one line. For a FAQ line, *top-1* is
right when the intent (ignoring the fallback) is ``faq`` and the
ResponseSelector's first candidate is the expected entry; the bot then either
answers it or, when unsure, offers it first among "您是不是想问".

Everything is decided from the parse alone, so any pipeline is scored by the
same rule: a final intent ``faq`` is a direct answer (the selector's first
candidate); a final ``nlu_fallback``, whoever raised it (Rasa's
FallbackClassifier or our FaqConfidenceGate), is the "您是不是想问" question
(rule "unsure what the customer means" -> action_clarify), whose FAQ buttons
are the selector's first three candidates, shown only when the first scores
at least SUGGESTION_MIN_CONFIDENCE (as action_clarify does).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.faq.library import load_heldout

FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
# Mirrors actions/action_clarify.py (SUGGESTIONS, MIN_SUGGESTION_CONFIDENCE):
# the "您是不是想问" question offers this many FAQ entries, and none when the
# best candidate scores below the minimum (tests check the two agree).
SUGGESTIONS = 3
SUGGESTION_MIN_CONFIDENCE = 0.05


@dataclass(frozen=True)
class Case:
    text: str
    intent: str  # "faq", "out_of_scope", "greet", ...
    faq_id: Optional[str] = None


def heldout_cases(heldout_dir: Path) -> List[Case]:
    cases = [
        Case(text, "faq", faq_id)
        for faq_id, lines in load_heldout(heldout_dir).items()
        for text in lines
    ]
    oos = yaml.safe_load((heldout_dir / "out_of_scope.yml").read_text(encoding="utf-8"))
    cases += [Case(str(text), OUT_OF_SCOPE) for text in oos]
    intents = yaml.safe_load((heldout_dir / "intents.yml").read_text(encoding="utf-8"))
    cases += [Case(str(text), intent) for intent, lines in intents.items() for text in lines]
    return cases


def underlying_intent(parse: dict) -> Optional[str]:
    """The classifier's intent, looking through the fallback."""
    for candidate in parse.get("intent_ranking") or [parse.get("intent") or {}]:
        if candidate.get("name") != FALLBACK:
            return candidate.get("name")
    return None


def _selector_ranking(parse: dict) -> List[dict]:
    return ((parse.get("response_selector") or {}).get("faq") or {}).get("ranking") or []


def faq_ranking(parse: dict) -> List[str]:
    return [c["intent_response_key"].split("/", 1)[-1] for c in _selector_ranking(parse)]


def suggested_faq_ids(parse: dict) -> List[str]:
    """The FAQ entries the "您是不是想问" buttons offer for this parse."""
    ranking = _selector_ranking(parse)
    if not ranking or ranking[0].get("confidence", 0.0) < SUGGESTION_MIN_CONFIDENCE:
        return []
    return faq_ranking(parse)[:SUGGESTIONS]


def short_label(label: str) -> str:
    """``faq/<id>`` -> ``<id>``; any other intent -> ``<intent>`` in angle brackets."""
    return label.split("/", 1)[1] if label.startswith("faq/") else f"<{label}>"


@dataclass
class Report:
    faq_total: int = 0
    faq_top1: int = 0
    faq_answered_right: int = 0
    faq_answered_wrong: int = 0
    faq_clarified: int = 0
    faq_clarified_with_right_in_top3: int = 0
    faq_intent_missed: int = 0
    oos_total: int = 0
    oos_true_positive: int = 0
    oos_predicted: int = 0
    oos_given_handbook_answer: int = 0
    other_total: int = 0
    other_right: int = 0
    # Every line: the classifier's intent (through the fallback) is the expected one.
    intent_total: int = 0
    intent_right: int = 0
    confusions: Counter = field(default_factory=Counter)
    # Out-of-scope and other-intent lines not answered as expected:
    # (expected intent, final intent, the classifier's intent under a fallback).
    intent_confusions: Counter = field(default_factory=Counter)
    misses: List[Tuple[str, str, str]] = field(default_factory=list)

    def add(self, case: Case, parse: dict) -> None:
        final = (parse.get("intent") or {}).get("name")
        underlying = underlying_intent(parse)
        ranking = faq_ranking(parse)
        self.intent_total += 1
        self.intent_right += underlying == case.intent
        if final == OUT_OF_SCOPE:
            self.oos_predicted += 1
        if case.intent == "faq":
            self.faq_total += 1
            top1 = underlying == "faq" and ranking[:1] == [case.faq_id]
            self.faq_top1 += top1
            self.faq_intent_missed += underlying != "faq"
            if final == "faq":
                self.faq_answered_right += top1
                self.faq_answered_wrong += not top1
            elif final == FALLBACK:
                self.faq_clarified += 1
                self.faq_clarified_with_right_in_top3 += case.faq_id in suggested_faq_ids(parse)
            if not top1:
                predicted = f"faq/{ranking[0]}" if underlying == "faq" and ranking else str(underlying)
                self.confusions[(f"faq/{case.faq_id}", predicted)] += 1
                self.misses.append((case.text, f"faq/{case.faq_id}", f"{final} -> {predicted}"))
        elif case.intent == OUT_OF_SCOPE:
            self.oos_total += 1
            self.oos_true_positive += final == OUT_OF_SCOPE
            self.oos_given_handbook_answer += final == "faq"
            if final != OUT_OF_SCOPE:
                self.intent_confusions[(OUT_OF_SCOPE, str(final), str(underlying))] += 1
                self.misses.append((case.text, OUT_OF_SCOPE, f"{final} ({underlying})"))
        else:
            self.other_total += 1
            self.other_right += final == case.intent
            if final != case.intent:
                self.intent_confusions[(case.intent, str(final), str(underlying))] += 1
                self.misses.append((case.text, case.intent, f"{final} ({underlying})"))

    @property
    def top1_accuracy(self) -> float:
        return self.faq_top1 / self.faq_total if self.faq_total else 0.0

    @property
    def did_you_mean_rate(self) -> float:
        """Share of FAQ lines answered with the "您是不是想问" question."""
        return self.faq_clarified / self.faq_total if self.faq_total else 0.0

    @property
    def answered_right_rate(self) -> float:
        return self.faq_answered_right / self.faq_total if self.faq_total else 0.0

    @property
    def answered_wrong_rate(self) -> float:
        return self.faq_answered_wrong / self.faq_total if self.faq_total else 0.0

    @property
    def intent_accuracy(self) -> float:
        return self.intent_right / self.intent_total if self.intent_total else 0.0

    @property
    def other_accuracy(self) -> float:
        return self.other_right / self.other_total if self.other_total else 0.0

    def top_confusions(self, n: int = 10) -> List[Tuple[str, str, int]]:
        """The `n` most frequent (expected, predicted, count) FAQ confusions, by
        count, then by name (deterministic); labels as in `confusions`."""
        ordered = sorted(self.confusions.items(), key=lambda item: (-item[1], item[0]))
        return [(expected, predicted, count) for (expected, predicted), count in ordered[:n]]

    def top_intent_confusions(self, n: int = 10) -> List[Tuple[str, str, str, int]]:
        """The `n` most frequent (expected, final, classifier's, count) misses
        of out-of-scope and other-intent lines, by count, then by name."""
        ordered = sorted(self.intent_confusions.items(), key=lambda item: (-item[1], item[0]))
        return [(*labels, count) for labels, count in ordered[:n]]

    @property
    def oos_precision(self) -> float:
        return self.oos_true_positive / self.oos_predicted if self.oos_predicted else 0.0

    @property
    def oos_recall(self) -> float:
        return self.oos_true_positive / self.oos_total if self.oos_total else 0.0

    def summary(self) -> Dict[str, float]:
        return {
            "faq_lines": self.faq_total,
            "faq_top1_accuracy": round(self.top1_accuracy, 4),
            "faq_answered_right": self.faq_answered_right,
            "faq_answered_wrong": self.faq_answered_wrong,
            "faq_did_you_mean": self.faq_clarified,
            "faq_did_you_mean_right_in_top3": self.faq_clarified_with_right_in_top3,
            "faq_intent_missed": self.faq_intent_missed,
            "oos_lines": self.oos_total,
            "oos_precision": round(self.oos_precision, 4),
            "oos_recall": round(self.oos_recall, 4),
            "oos_given_handbook_answer": self.oos_given_handbook_answer,
            "other_intent_lines": self.other_total,
            "other_intent_accuracy": round(self.other_accuracy, 4),
            "faq_answered_right_rate": round(self.answered_right_rate, 4),
            "faq_answered_wrong_rate": round(self.answered_wrong_rate, 4),
            "faq_did_you_mean_rate": round(self.did_you_mean_rate, 4),
            "intent_lines": self.intent_total,
            "intent_accuracy": round(self.intent_accuracy, 4),
        }

    def text(self, misses: int = 40) -> str:
        lines = [f"{key:34} {value}" for key, value in self.summary().items()]
        if self.confusions:
            lines.append("most frequent FAQ confusions (expected -> predicted):")
            lines += [f"  {n} x {a} -> {b}" for a, b, n in self.top_confusions(10)]
        if self.misses:
            lines.append(f"misses (first {misses}):")
            lines += [f"  {text}  [{want}] got {got}" for text, want, got in self.misses[:misses]]
        return "\n".join(lines)
