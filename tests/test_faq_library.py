"""The standard Q&A library: the validator catches each kind of breakage, the
real library passes, and the generated training data is current."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.faq import generate
from bot.faq.handbook import Handbook
from bot.faq.library import load_heldout, load_library
from bot.faq.validate import find_problems, other_training_examples


@pytest.fixture(scope="module")
def library(settings):
    return load_library(settings.faq_dir)


@pytest.fixture(scope="module")
def handbook(settings):
    return Handbook.read(settings.handbook_path)


@pytest.fixture(scope="module")
def heldout(settings):
    return load_heldout(settings.heldout_dir)


def problems_of(library, handbook, heldout=None, other=None):
    return find_problems(library, handbook, heldout or {}, other or {})


def only(problems, needle):
    return [p for p in problems if needle in p and "held-out" not in p]


def test_the_real_library_is_valid(library, handbook, heldout, settings):
    assert problems_of(library, handbook, heldout, other_training_examples(settings.nlu_dir)) == []


def test_the_library_covers_every_section_and_is_big_enough(library, handbook):
    covered = {clause for entry in library.entries for clause in entry.clauses}
    assert 70 <= len(library.entries) <= 100
    assert set(handbook.sections) - covered == set()
    assert all(len(entry.similar) >= 12 for entry in library.entries)


def test_handbook_has_every_section(handbook):
    expected = {f"{c}.{s}" for c, n in [(1, 4), (2, 5), (3, 4), (4, 4), (5, 4), (6, 4), (7, 3)] for s in range(1, n + 1)}
    assert set(handbook.sections) == expected


def test_handbook_copy_matches_the_shared_original(settings):
    shared = Path(settings.handbook_path).parents[3] / "shared" / "handbook" / "handbook.zh-Hans.md"
    if not shared.exists():
        pytest.skip(f"shared handbook not on this machine ({shared})")
    assert settings.handbook_path.read_text(encoding="utf-8") == shared.read_text(encoding="utf-8")


def edited(library, entry_id, **changes):
    """A copy of the library with one entry changed."""
    copy = library.copy(deep=True)
    for chapter in copy.chapters:
        for index, entry in enumerate(chapter.entries):
            if entry.id == entry_id:
                chapter.entries[index] = entry.copy(update=changes)
    return copy


def test_rejects_a_similar_question_used_by_two_entries(library, handbook):
    first, second = library.entries[0], library.entries[1]
    broken = edited(library, second.id, similar=[*second.similar, first.similar[0]])
    assert only(problems_of(broken, handbook), "duplicate question")


def test_rejects_a_near_duplicate_across_entries(library, handbook):
    first, second = library.entries[0], library.entries[1]
    longest = max(first.similar, key=len)
    broken = edited(library, second.id, similar=[*second.similar, longest + "啦"])
    near = only(problems_of(broken, handbook), "near-duplicate")
    assert near and all(first.id in p and second.id in p for p in near)


def test_rejects_missing_and_unknown_clauses(library, handbook):
    entry = library.entries[0]
    assert only(problems_of(edited(library, entry.id, clauses=[]), handbook), "no handbook clause")
    assert only(problems_of(edited(library, entry.id, clauses=["8.1"]), handbook), "'8.1'")


def test_rejects_dangling_and_self_related_ids(library, handbook):
    entry = library.entries[0]
    broken = edited(library, entry.id, related=["no_such_entry", entry.id])
    problems = problems_of(broken, handbook)
    assert only(problems, "'no_such_entry' does not exist")
    assert only(problems, "relates to itself")


@pytest.mark.parametrize(
    "invented",
    ["转账手续费为5元。", "审核一般需要3个工作日。", "专属客服15分钟内回复。", "热线号码是95588。"],
)
def test_rejects_a_figure_the_handbook_does_not_contain(library, handbook, invented):
    entry = library.entries[0]
    broken = edited(library, entry.id, answer=invented)
    assert only(problems_of(broken, handbook), "not in the handbook")


def test_accepts_figures_the_handbook_states(library, handbook):
    entry = library.entries[0]
    fine = edited(library, entry.id, answer="人工服务时间为工作日9:00-22:00，专属客服响应时间不超过20分钟。")
    assert only(problems_of(fine, handbook), "figure") == []


def test_rejects_chinese_numeral_quantities(library, handbook):
    entry = library.entries[0]
    broken = edited(library, entry.id, answer="专属客服二十分钟内回复您。")
    assert only(problems_of(broken, handbook), "Arabic numerals")


def test_rejects_too_few_similar_questions(library, handbook):
    entry = library.entries[0]
    broken = edited(library, entry.id, similar=entry.similar[:11])
    assert only(problems_of(broken, handbook), "need at least 12")


def test_rejects_heldout_lines_that_leak_into_training(library, handbook):
    entry = library.entries[0]
    leaked = {entry.id: [entry.similar[3], "一句从来没有出现过的全新问法"]}
    problems = find_problems(library, handbook, leaked, {})
    assert any("is a training example" in p for p in problems)


def test_rejects_a_phrasing_that_another_intent_also_has(library, handbook):
    entry = library.entries[0]
    problems = problems_of(library, handbook, other={"check_application_status": [entry.similar[2]]})
    assert any("also an example of intent check_application_status" in p for p in problems)


def test_heldout_problems_never_quote_the_heldout_line(library, handbook):
    entry, other = library.entries[0], library.entries[1]
    unseen = "一句从来没有出现过的全新问法"
    close = entry.similar[5] + "呢"
    problems = find_problems(library, handbook, {other.id: [unseen, close]}, {})
    near = [p for p in problems if "too close" in p]
    assert near and all(entry.similar[5] in p and close not in p for p in near)
    assert not any(unseen in p for p in problems)


def test_generated_training_data_is_current(library):
    assert generate.stale_files(library) == [], "run `python -m bot.faq.generate`"


def test_generated_data_is_rasa_training_data(library, settings):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(settings.nlu_dir / "faq.yml")
    by_intent = {}
    for example in data.intent_examples:
        by_intent.setdefault(example.get("intent_response_key"), []).append(example.get("text"))
    for entry in library.entries:
        assert by_intent[f"faq/{entry.id}"] == [" ".join(t.split()) for t in entry.examples]
    responses = yaml.safe_load((settings.responses_dir / "faq.yml").read_text(encoding="utf-8"))
    assert responses["responses"] == {
        f"utter_faq/{entry.id}": [{"text": entry.answer}] for entry in library.entries
    }
