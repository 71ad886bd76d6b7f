"""Reject a broken standard Q&A library.

    python -m bot.faq.validate

Exits non-zero and lists every problem: entries with too few similar
questions, (near-)duplicate questions across entries, missing or unknown
handbook clauses, dangling related ids, figures in an answer that the handbook
does not contain, and held-out test phrasings that leak into training data.
"""
from __future__ import annotations

import re
import sys
from collections import defaultdict
from typing import Dict, Iterable, List

import yaml
from pydantic import ValidationError

from bot.faq.handbook import Handbook
from bot.faq.library import MIN_SIMILAR, Library, load_heldout, load_library
from bot.faq.similarity import near_duplicates, normalise
from bot.settings import get_settings

NEAR_DUPLICATE = 0.8
MAX_SENTENCES = 4
GENERATED_NLU_FILE = "faq.yml"

_FIGURE = re.compile(
    r"\d+(?:[:.]\d+)?(?:\s*(?:-|至|~|—)\s*\d+(?:[:.]\d+)?)?"
    r"\s*(?:%|个工作日|个月|分钟|小时|天|年|元|周|次|倍)?"
)
_CHINESE_QUANTITY = re.compile(
    r"[零一二两三四五六七八九十百千万]+\s*(?:个工作日|个月|分钟|小时|天|年|元|周)"
)
_ANNOTATION_SYNTAX = re.compile(r"[\[\]{}]")
_SENTENCE_END = re.compile(r"[。！？!?]")


def figures_in(answer: str) -> List[str]:
    return [match.group(0).strip() for match in _FIGURE.finditer(answer)]


def _entry_problems(library: Library, handbook: Handbook) -> Iterable[str]:
    ids = library.by_id()
    seen_ids: Dict[str, int] = defaultdict(int)
    for entry in library.entries:
        seen_ids[entry.id] += 1
        where = f"{entry.id}:"
        if len(entry.similar) < MIN_SIMILAR:
            yield f"{where} {len(entry.similar)} similar questions, need at least {MIN_SIMILAR}"
        if not entry.clauses:
            yield f"{where} no handbook clause"
        for clause in entry.clauses:
            if clause not in handbook.sections:
                yield f"{where} clause {clause!r} is not a handbook section"
        if not 2 <= len(entry.related) <= 3:
            yield f"{where} {len(entry.related)} related questions, need 2-3"
        for related in entry.related:
            if related == entry.id:
                yield f"{where} relates to itself"
            elif related not in ids:
                yield f"{where} related id {related!r} does not exist"
        for figure in figures_in(entry.answer):
            if not handbook.contains(figure):
                yield f"{where} figure {figure!r} in the answer is not in the handbook"
        for quantity in _CHINESE_QUANTITY.findall(entry.answer):
            yield f"{where} write {quantity!r} in Arabic numerals so it can be checked"
        sentences = len(_SENTENCE_END.findall(entry.answer.rstrip("。！？!?"))) + 1
        if sentences > MAX_SENTENCES:
            yield f"{where} answer has {sentences} sentences, keep it to {MAX_SENTENCES}"
        for text in entry.examples:
            if _ANNOTATION_SYNTAX.search(text):
                yield f"{where} {text!r} contains []{{}} (Rasa annotation syntax)"
    for entry_id, count in seen_ids.items():
        if count > 1:
            yield f"{entry_id}: id used {count} times"
    for entry_id in library.featured:
        if entry_id not in ids:
            yield f"featured: {entry_id!r} does not exist"


def _duplicate_problems(library: Library) -> Iterable[str]:
    owners: Dict[str, set] = defaultdict(set)
    items = []
    for entry in library.entries:
        for text in entry.examples:
            key = normalise(text)
            if entry.id in owners[key]:
                yield f"{entry.id}: {text!r} appears twice"
            owners[key].add(entry.id)
            items.append((entry.id, text))
    for key, entry_ids in owners.items():
        if len(entry_ids) > 1:
            yield f"duplicate question {key!r} in {sorted(entry_ids)}"
    for (a_id, a_text), (b_id, b_text), score in near_duplicates(items, NEAR_DUPLICATE):
        yield f"near-duplicate ({score:.2f}): {a_id}: {a_text!r} ~ {b_id}: {b_text!r}"


def other_training_examples(nlu_dir) -> Dict[str, List[str]]:
    """Hand-written NLU examples by intent (everything but the generated FAQ file)."""
    examples: Dict[str, List[str]] = defaultdict(list)
    for path in sorted(nlu_dir.glob("*.yml")):
        if path.name == GENERATED_NLU_FILE:
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                lines = str(block.get("examples", "")).splitlines()
                examples[block["intent"]].extend(
                    line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")
                )
    return examples


def _heldout_problems(library: Library, heldout, other_examples) -> Iterable[str]:
    """Leaks of the held-out set into training. The messages never quote a
    held-out line: whoever fixes the library must not learn the test set."""
    ids = library.by_id()
    training = {normalise(text): entry.id for entry in library.entries for text in entry.examples}
    for intent, texts in other_examples.items():
        training.update({normalise(text): intent for text in texts})
    items = [(("train", entry.id), text) for entry in library.entries for text in entry.examples]
    for entry_id, lines in heldout.items():
        if entry_id not in ids:
            yield f"held-out: {entry_id!r} is not a library entry"
        for number, line in enumerate(lines, start=1):
            if normalise(line) in training:
                # The training example is the held-out line: drop it from training.
                yield (
                    f"held-out: held-out line {number} of {entry_id} is a training example "
                    f"of {training[normalise(line)]}; remove it from the training data"
                )
            items.append((("heldout", entry_id), line))
    for a, b, score in near_duplicates(items, NEAR_DUPLICATE):
        if {a[0][0], b[0][0]} == {"train", "heldout"}:
            train, held = (a, b) if a[0][0] == "train" else (b, a)
            yield (
                f"held-out: training example {train[1]!r} ({train[0][1]}) is too close "
                f"({score:.2f}) to a held-out line of {held[0][1]}; rephrase or drop it"
            )
    for entry in library.entries:
        if len(heldout.get(entry.id, [])) < 2:
            yield f"held-out: {entry.id} needs at least 2 unseen phrasings"


def _other_intent_problems(library: Library, other_examples) -> Iterable[str]:
    """A phrasing that is also an example of another intent (check_application_status,
    book_appointment, ...) teaches the model two answers to one question."""
    other = {normalise(text): intent for intent, texts in other_examples.items() for text in texts}
    for entry in library.entries:
        for text in entry.examples:
            if normalise(text) in other:
                yield f"{entry.id}: {text!r} is also an example of intent {other[normalise(text)]}"


def find_problems(library: Library, handbook: Handbook, heldout, other_examples) -> List[str]:
    return [
        *_entry_problems(library, handbook),
        *_duplicate_problems(library),
        *_other_intent_problems(library, other_examples),
        *_heldout_problems(library, heldout, other_examples),
    ]


def main() -> int:
    settings = get_settings()
    try:
        library = load_library(settings.faq_dir)
    except ValidationError as error:
        print(f"faq/: malformed library\n{error}", file=sys.stderr)
        return 1
    problems = find_problems(
        library,
        Handbook.read(settings.handbook_path),
        load_heldout(settings.heldout_dir),
        other_training_examples(settings.nlu_dir),
    )
    for problem in problems:
        print(problem, file=sys.stderr)
    entries = library.entries
    print(
        f"faq/: {len(entries)} entries, "
        f"{sum(len(e.examples) for e in entries)} training phrasings, "
        f"{len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
