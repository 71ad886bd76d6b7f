"""The accuracy report (python -m bot.report), without training anything:
the cross-validation split, the baseline's fingerprint, the writers and the
chart on hand-made reports, confusion pairs."""
from __future__ import annotations

import json
import random

import pytest
import yaml

from bot.evaluation import FALLBACK, Case, Report
from bot.report import parse_args
from bot.report_cv import FoldResult, mean_std
from bot.report_output import ModelResult, ReportData, markdown, stdout_text, to_json, write_report
from bot.report_training import TrainingJob, TrainingRecord, training_fingerprint, training_inputs, write_record
from bot.settings import ROOT, get_settings
from bot.training_split import (
    EPOCH_COMPONENTS,
    Example,
    assign_folds,
    config_text,
    fold_splits,
    nlu_config,
    quiet_rasa_parse_logs,
    read_nlu,
    write_nlu_dir,
)
from tests.test_evaluation import parse

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- the cross-validation split ---------------------------------------------


@pytest.fixture(scope="module")
def training_examples():
    return read_nlu(get_settings().nlu_dir).examples


@pytest.mark.parametrize("folds", [2, 5])
def test_fold_split_is_deterministic_and_ignores_order(training_examples, folds):
    first = assign_folds(training_examples, folds)
    assert first == assign_folds(training_examples, folds)
    shuffled = list(training_examples)
    random.Random(7).shuffle(shuffled)
    by_example = dict(zip(shuffled, assign_folds(shuffled, folds)))
    assert [by_example[e] for e in training_examples] == first


@pytest.mark.parametrize("folds", [2, 5])
def test_folds_are_disjoint_and_cover_every_example(training_examples, folds):
    splits = fold_splits(training_examples, folds)
    tests = [set(test) for _, test in splits]
    for i, test in enumerate(tests):
        for other in tests[i + 1:]:
            assert not test & other
    assert set().union(*tests) == set(training_examples)
    for train, test in splits:
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(training_examples)


@pytest.mark.parametrize("folds", [2, 5])
def test_every_intent_and_faq_entry_is_in_every_training_split(training_examples, folds):
    intents = {e.intent for e in training_examples}
    assert sum(i.startswith("faq/") for i in intents) >= 80
    for train, test in fold_splits(training_examples, folds):
        assert {e.intent for e in train} == intents
        assert {e.intent for e in test} == intents  # stratified: each fold tests every entry


def test_folds_are_balanced_per_intent():
    examples = [Example(f"问题{i}", "faq/a") for i in range(13)]
    examples += [Example(f"你好{i}", "greet") for i in range(7)]
    assigned = assign_folds(examples, 5)
    for intent, size in (("faq/a", 13), ("greet", 7)):
        counts = [sum(1 for e, f in zip(examples, assigned) if e.intent == intent and f == k)
                  for k in range(5)]
        assert sum(counts) == size and max(counts) - min(counts) <= 1


def test_an_intent_with_one_example_is_always_trained_on():
    examples = [Example("唯一", "stop"), Example("甲", "greet"), Example("乙", "greet")]
    assert assign_folds(examples, 5)[0] is None
    for train, test in fold_splits(examples, 5):
        assert Example("唯一", "stop") in train and Example("唯一", "stop") not in test


def test_cases_of_a_test_fold():
    assert Example("挂失", "faq/card_loss").case() == Case("挂失", "faq", "card_loss")
    assert Example("你好", "greet").case() == Case("你好", "greet")


def test_a_written_training_split_reads_back(tmp_path, training_examples):
    train, _ = fold_splits(training_examples, 5)[0]
    responses = tmp_path / "responses"
    responses.mkdir()
    (responses / "faq.yml").write_text('version: "3.1"\nresponses: {}\n', encoding="utf-8")
    nlu_dir = write_nlu_dir(tmp_path / "data", train, [{"synonym": "a", "examples": "- b\n"}], responses)
    back = read_nlu(nlu_dir)
    assert back.examples == train
    assert back.extras == [{"synonym": "a", "examples": "- b\n"}]
    assert (nlu_dir / "responses_faq.yml").exists()


def test_configs_for_training():
    nlu = nlu_config(ROOT / "config.yml", epochs=3)
    assert "policies" not in nlu
    assert {c["name"]: c.get("epochs") for c in nlu["pipeline"]}["ResponseSelector"] == 3
    baseline = yaml.safe_load(config_text(ROOT / "config" / "baseline.yml", epochs=2))
    components = baseline["pipeline"] + baseline.get("policies", [])
    trained = [c for c in components if c["name"] in EPOCH_COMPONENTS]
    assert {"DIETClassifier", "ResponseSelector"} <= {c["name"] for c in trained}
    assert all(c["epochs"] == 2 for c in trained)
    assert all("epochs" not in c for c in components if c["name"] not in EPOCH_COMPONENTS)
    ted = yaml.safe_load(config_text_of("policies:\n- name: TEDPolicy\n- name: RulePolicy\n", epochs=5))
    assert ted["policies"] == [{"name": "TEDPolicy", "epochs": 5}, {"name": "RulePolicy"}]
    original = (ROOT / "config" / "baseline.yml").read_text(encoding="utf-8")
    assert config_text(ROOT / "config" / "baseline.yml") == original


def config_text_of(text: str, epochs: int) -> str:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yml"
        path.write_text(text, encoding="utf-8")
        return config_text(path, epochs)


def test_parse_logs_never_print_a_message_text(capsys):
    """Rasa's structlog defaults print a debug line with every parsed text to
    stdout; the parse helpers silence everything below WARNING."""
    import structlog

    saved = structlog.get_config()
    try:
        quiet_rasa_parse_logs()
        log = structlog.get_logger()
        log.debug("processor.message.parse", parse_data_text="某条句子")
        log.info("processor.message.parse", parse_data_text="某条句子")
        log.warning("something.odd")
        captured = capsys.readouterr()
        assert "某条句子" not in captured.out + captured.err
        assert captured.out == "" and "something.odd" in captured.err
    finally:
        structlog.configure(**saved)


# --- the baseline's fingerprint -----------------------------------------------


@pytest.fixture
def project(tmp_path):
    (tmp_path / "config.yml").write_text("pipeline:\n- name: DIETClassifier\n", encoding="utf-8")
    (tmp_path / "domain.yml").write_text("intents: [greet]\n", encoding="utf-8")
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "chitchat.yml").write_text("nlu: []\n", encoding="utf-8")
    (tmp_path / "data" / "rules.yml").write_text("rules: []\n", encoding="utf-8")
    return tmp_path


def fingerprint_of(project) -> str:
    config = (project / "config.yml").read_text(encoding="utf-8")
    files = training_inputs(project / "domain.yml", project / "data")
    return training_fingerprint(config, files, project, ["rasa 3.6.21"])


def test_fingerprint_is_stable_when_nothing_changes(project):
    before = fingerprint_of(project)
    data_file = project / "data" / "rules.yml"
    data_file.write_text(data_file.read_text(encoding="utf-8"), encoding="utf-8")  # new mtime
    assert fingerprint_of(project) == before


@pytest.mark.parametrize("changed", ["config.yml", "domain.yml", "data/nlu/chitchat.yml", "data/rules.yml"])
def test_fingerprint_changes_with_the_config_or_a_data_file(project, changed):
    before = fingerprint_of(project)
    path = project / changed
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "# edited\n", encoding="utf-8")
    assert fingerprint_of(project) != before
    path.write_text(original, encoding="utf-8")
    assert fingerprint_of(project) == before


def test_fingerprint_changes_when_a_data_file_is_added_or_renamed(project):
    before = fingerprint_of(project)
    (project / "data" / "stories.yml").write_text("stories: []\n", encoding="utf-8")
    assert fingerprint_of(project) != before
    (project / "data" / "stories.yml").unlink()
    (project / "data" / "rules.yml").rename(project / "data" / "rules2.yml")
    assert fingerprint_of(project) != before


def test_fingerprint_changes_with_the_rasa_version(project):
    config = (project / "config.yml").read_text(encoding="utf-8")
    files = training_inputs(project / "domain.yml", project / "data")
    assert training_fingerprint(config, files, project, ["rasa 3.6.21"]) != training_fingerprint(
        config, files, project, ["rasa 3.6.22"])


def test_a_stored_model_is_reused_only_while_fresh(project):
    model = project / "models" / "baseline.tar.gz"
    job = TrainingJob("baseline", project / "config.yml", project / "models" / "baseline.fingerprint",
                      model=model, domain=project / "domain.yml", data=project / "data")
    assert job.fresh_record() is None  # nothing stored
    model.parent.mkdir()
    model.write_bytes(b"model")
    write_record(job.record, record(job.fingerprint()))
    assert job.fresh_record().seconds == 4000.0
    (project / "data" / "rules.yml").write_text("rules: [changed]\n", encoding="utf-8")
    assert job.fresh_record() is None  # a data file changed
    write_record(job.record, record(job.fingerprint()))
    assert job.fresh_record() is not None
    job.epochs = 2
    assert job.fresh_record() is None  # a trial's config is another config
    job.epochs = None
    model.unlink()
    assert job.fresh_record() is None  # the model is gone


def record(fingerprint: str, seconds: float = 4000.0, trained_now: bool = False) -> TrainingRecord:
    return TrainingRecord(
        label="baseline", config="config/baseline.yml", fingerprint=fingerprint, seconds=seconds,
        trained_at="2026-11-29T10:00:00+08:00", load_average=1.5, epochs=None,
        command="python -m rasa train --config config/baseline.yml", trained_now=trained_now)


def test_a_trial_never_uses_the_real_models_dir():
    with pytest.raises(SystemExit):
        parse_args(["--epochs", "2"])
    with pytest.raises(SystemExit):
        parse_args(["--epochs", "2", "--models-dir", "/tmp/x", "--baseline-model",
                    str(get_settings().models_dir / "baseline.tar.gz")])
    args = parse_args(["--epochs", "2", "--models-dir", "/tmp/report-models"])
    assert str(args.baseline_model) == "/tmp/report-models/baseline.tar.gz"
    assert parse_args([]).baseline_model == get_settings().models_dir / "baseline.tar.gz"


# --- confusion pairs ----------------------------------------------------------


def test_confusion_pairs_are_counted_from_the_parses():
    report = Report()
    lines = [
        ("card_loss", parse("faq", ["card_freeze", "card_loss"])),
        ("card_loss", parse(FALLBACK, ["card_freeze"], underlying="faq")),
        ("card_loss", parse("faq", ["card_loss"])),  # right: no confusion
        ("card_loss", parse("out_of_scope", ["card_loss"])),  # not taken for an FAQ
        ("transfer_limit", parse("faq", ["card_freeze"])),
        ("fees", parse("faq", ["rates"])),
        ("fees", parse("faq", ["rates"])),
        ("fees", parse("faq", ["rates"])),
    ]
    for index, (faq_id, prediction) in enumerate(lines):
        report.add(Case(f"line {index}", "faq", faq_id), prediction)
    assert report.top_confusions(10) == [
        ("faq/fees", "faq/rates", 3),
        ("faq/card_loss", "faq/card_freeze", 2),
        ("faq/card_loss", "out_of_scope", 1),
        ("faq/transfer_limit", "faq/card_freeze", 1),
    ]
    assert report.top_confusions(2) == report.top_confusions(10)[:2]


# --- writers and chart ----------------------------------------------------------

SECRET = "这是一条不该出现在报告里的句子"


def hand_made(right: int, wrong: int, unsure: int) -> Report:
    report = Report()
    for _ in range(right):
        report.add(Case(SECRET, "faq", "fees"), parse("faq", ["fees", "rates"]))
    for _ in range(wrong):
        report.add(Case(SECRET, "faq", "fees"), parse("faq", ["rates", "fees"]))
    for _ in range(unsure):
        report.add(Case(SECRET, "faq", "fees"), parse(FALLBACK, ["rates", "fees"], underlying="faq"))
    report.add(Case(SECRET, "out_of_scope"), parse("out_of_scope"))
    report.add(Case(SECRET, "out_of_scope"), parse("faq", ["fees"]))
    report.add(Case(SECRET, "greet"), parse("greet"))
    return report


@pytest.fixture
def data():
    ours = ModelResult("ours", "models/bot.tar.gz", "config.yml", hand_made(8, 1, 3),
                       record("ab" * 32, 520.0, trained_now=True))
    baseline = ModelResult("baseline", "models/baseline.tar.gz", "config/baseline.yml",
                           hand_made(5, 6, 1), record("cd" * 32, 4000.0))
    folds = [FoldResult(i, 4000, 1000, 300.0 + i, hand_made(7 + i, 2, 1)) for i in (1, 2, 3)]
    return ReportData(generated_at="2026-11-29T21:00:00+08:00", command="python -m bot.report",
                      ours=ours, baseline=baseline, folds=folds, cv_command="python -m rasa train nlu ...",
                      elapsed_seconds=4321.0)


def test_markdown_has_the_tables_and_no_line_texts(data):
    text = markdown(data)
    assert "| FAQ top-1 (right entry ranked first) | **66.7%** (8 / 12) | **41.7%** (5 / 12) |" in text
    assert "| did-you-mean (“您是不是想问”) rate | 3 (25.0%) | 1 (8.3%) |" in text
    assert "| out-of-scope precision | 1.00 (1 / 1) | 1.00 (1 / 1) |" in text
    assert "| out-of-scope recall | 0.50 (1 / 2) | 0.50 (1 / 2) |" in text
    assert "8 min 40 s (this run)" in text and "1 h 06 min 40 s (2026-11-29)" in text
    assert "`fees` → `rates` (4)" in text  # ours: 1 wrong + 3 asked
    assert "1. `out_of_scope` → `faq` (1)" in text  # the out-of-scope line answered
    assert "| **mean ± std** | | | **" in text
    assert "2026-11-29T21:00:00+08:00" in text and "python -m bot.report" in text
    assert "nlu_fallback" in text  # the scoring rule is stated
    assert SECRET not in text
    assert stdout_text(data).startswith("| measure | ours (config.yml) | baseline (config/baseline.yml) |")


def test_json_has_both_models_and_the_cv(data):
    payload = to_json(data)
    json.dumps(payload)  # serialisable
    assert payload["models"]["ours"]["summary"]["faq_top1_accuracy"] == round(8 / 12, 4)
    assert payload["models"]["baseline"]["training"]["seconds"] == 4000.0
    assert payload["models"]["ours"]["top_confusions"][0] == {"expected": "fees", "predicted": "rates", "count": 4}
    assert payload["models"]["ours"]["intent_confusions"] == [
        {"expected": "out_of_scope", "answered": "faq", "classifier": "faq", "count": 1}
    ]
    cv = payload["cross_validation"]
    assert [f["fold"] for f in cv["folds"]] == [1, 2, 3]
    mean, std = mean_std([f.report.top1_accuracy for f in data.folds])
    assert cv["faq_top1_mean"] == round(mean, 4) and cv["faq_top1_std"] == round(std, 4)
    assert SECRET not in json.dumps(payload, ensure_ascii=False)


def test_write_report_writes_markdown_json_and_a_png(tmp_path, data):
    paths = write_report(tmp_path / "report", data)
    assert sorted(p.name for p in paths.values()) == ["accuracy.json", "accuracy.md", "accuracy.png"]
    png = paths["png"].read_bytes()
    assert len(png) > 1000 and png.startswith(PNG_SIGNATURE)
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["command"] == "python -m bot.report"
    for path in paths.values():
        assert SECRET.encode("utf-8") not in path.read_bytes()


def test_report_without_baseline_and_cv(tmp_path, data):
    data.baseline, data.folds = None, []
    paths = write_report(tmp_path, data)
    assert paths["png"].read_bytes().startswith(PNG_SIGNATURE)
    text = paths["md"].read_text(encoding="utf-8")
    assert "baseline skipped" in text and "Skipped (`--skip-cv`)" in text
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["cross_validation"] is None


def test_mean_and_sample_std():
    assert mean_std([0.8, 0.9]) == pytest.approx((0.85, 0.0707106781))
    assert mean_std([0.5]) == (0.5, 0.0)
    assert mean_std([]) == (0.0, 0.0)
