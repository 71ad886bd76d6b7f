"""The load benchmark's parts (python -m bot.bench), without Rasa: statistics,
conversation scripts, the targets and the table, the chart, the driver
against an in-process stand-in for the REST channel."""
from __future__ import annotations

import os
import random
import re
import struct
from datetime import date, timedelta
from pathlib import Path

import numpy
import pytest
from aiohttp import web

from bot.bench import parse_args
from bot.bench_chart import write_chart
from bot.bench_load import LevelRun, Sample, percentile, run_level, summarize
from bot.bench_process import CpuMeter, cpu_seconds, rss_mib
from bot.bench_report import compare, markdown, rows, text_table, write
from bot.bench_script import (
    HUMAN_WORDS,
    TURN_KINDS,
    DemoApplication,
    ScriptMaker,
    Turn,
    faq_questions,
    working_days_ahead,
)
from bot.faq.library import load_library
from bot.settings import ROOT, get_settings

APPLICATIONS = [DemoApplication("SQ202611200003", "0178"), DemoApplication("SQ202611200001", "2872")]
BRANCHES = ["滨江支行", "视频客服"]
DAYS = [date(2026, 12, 2), date(2026, 12, 3)]


# -- statistics -------------------------------------------------------------


def test_percentiles_of_known_values():
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50) == 5.5
    assert percentile(range(1, 101), 95) == pytest.approx(95.05)
    assert percentile(range(1, 101), 99) == pytest.approx(99.01)
    assert percentile([10, 20, 30, 40], 0) == 10 and percentile([10, 20, 30, 40], 100) == 40
    assert percentile([40, 10, 30, 20], 50) == 25  # order does not matter
    assert percentile([7.5], 99) == 7.5
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_percentiles_agree_with_numpy():
    values = [random.Random(7).expovariate(1 / 200) for _ in range(997)]
    for p in (50, 95, 99):
        assert percentile(values, p) == pytest.approx(numpy.percentile(values, p))


def test_summary_counts_answered_messages_and_errors():
    run = LevelRun(concurrency=2, conversations=3)
    run.samples = [
        Sample("faq", 100.0, 0.1), Sample("faq", 100.5, 0.2), Sample("greeting", 101.0, 0.3),
        Sample("faq", 101.5, 0.5, error="timeout"), Sample("faq", 101.7, 0.3, error="http_500"),
    ]
    run.check("booking_confirm", True)
    run.check("booking_confirm", False)
    summary = summarize(run)
    assert summary["messages"] == 3 and summary["errors"] == 2
    assert summary["errors_by_kind"] == {"timeout": 1, "http_500": 1}
    assert summary["seconds"] == 2.0  # first start 100.0, last end 102.0
    assert summary["throughput"] == 1.5
    assert summary["p50_ms"] == 200.0 and summary["max_ms"] == 300.0
    assert summary["checks"] == {"booking_confirm": {"worked": 1, "tried": 2}}


def test_an_empty_level_has_no_figures():
    summary = summarize(LevelRun(concurrency=5))
    assert summary["throughput"] is None and summary["p99_ms"] is None and summary["messages"] == 0


# -- conversation scripts ---------------------------------------------------


@pytest.fixture(scope="module")
def library():
    return load_library(get_settings().faq_dir)


def test_scripts_come_from_the_library_and_hold_every_kind_of_turn(library):
    allowed = {text for entry in library.entries for text in entry.examples}
    make = ScriptMaker(faq_questions(library), APPLICATIONS, DAYS, BRANCHES, random.Random(1))
    for _ in range(200):
        script = make()
        kinds = [turn.kind for turn in script]
        assert set(kinds) == set(TURN_KINDS)
        faq = [turn.text for turn in script if turn.kind == "faq"]
        assert 2 <= len(faq) <= 3
        assert set(faq) <= allowed  # library phrasings only: never held-out text
        assert script[0].kind == "greeting" and script[-1] == Turn("chitchat", "谢谢")
        assert Turn("chitchat", "你是机器人吗") in script


def test_status_and_booking_turns_stay_together_in_order(library):
    make = ScriptMaker(faq_questions(library), APPLICATIONS, DAYS, BRANCHES, random.Random(2))
    for _ in range(50):
        script = make()
        kinds = [turn.kind for turn in script]
        at = kinds.index("status_query")
        assert kinds[at + 1] == "status_phone"
        query, phone = script[at].text, script[at + 1].text
        application = next(a for a in APPLICATIONS if a.number in query.replace(" ", ""))
        assert phone == application.phone_last4 and script[at + 1].expect == "当前状态"
        at = kinds.index("booking_start")
        assert kinds[at:at + 5] == [
            "booking_start", "booking_branch", "booking_time", "booking_phone", "booking_confirm"
        ]
        assert script[at].text.startswith("我想预约")
        assert script[at + 1].text in BRANCHES
        assert re.fullmatch(r"12月[23]日.+", script[at + 2].text)
        assert re.fullmatch(r"1[3-9]\d{9}", script[at + 3].text)
        assert script[at + 4] == Turn("booking_confirm", "确认预约", expect="预约码")


def test_questions_leave_out_handing_over_entries_and_requests_for_a_person(library):
    questions = faq_questions(library, exclude_ids={"complaint_how"})
    complaint = library.by_id()["complaint_how"]
    assert not set(complaint.examples) & set(questions)
    assert not [q for q in questions if any(word in q for word in HUMAN_WORDS)]
    assert len(questions) > 1000


def test_the_benchmark_never_refers_to_the_held_out_set():
    for path in sorted((ROOT / "bot").glob("bench*.py")):
        assert "heldout" not in path.read_text(encoding="utf-8"), path


def test_booking_days_are_working_days_inside_the_window():
    today = date(2026, 11, 30)  # a Monday
    days = working_days_ahead(today, lambda day: day.weekday() < 5)
    assert days[0] == date(2026, 12, 2) and all(d.weekday() < 5 for d in days)
    assert max(days) <= today + timedelta(days=25)


def test_a_script_maker_needs_material():
    with pytest.raises(ValueError):
        ScriptMaker(["a", "b"], APPLICATIONS, DAYS, BRANCHES)
    with pytest.raises(ValueError):
        ScriptMaker(["a", "b", "c"], [], DAYS, BRANCHES)


# -- targets and the table --------------------------------------------------


def _level(n, throughput, p50, p99, errors=0):
    return {
        "concurrency": n, "messages": 100, "conversations": 10, "seconds": 10.0,
        "throughput": throughput, "p50_ms": p50, "p95_ms": p99 * 0.8, "p99_ms": p99,
        "mean_ms": p50, "max_ms": p99, "errors": errors,
        "errors_by_kind": {"timeout": errors} if errors else {}, "handoffs": 0,
        "checks": {"booking_confirm": {"worked": 9, "tried": 10}},
        "warmup_seconds": 3.0, "rss_peak_mib": 900.0, "rss_start_mib": 850.0,
    }


def _results(ours_ready=12.0, ours_n50=(40.0, 300.0, 1500.0), baseline_errors=0):
    return {
        "ours": {"label": "ours", "model": "models/bot.tar.gz", "skipped": None,
                 "ready": {"seconds": ours_ready, "status_seconds": ours_ready - 0.5,
                           "first_answer_seconds": 0.5, "error": None},
                 "levels": [_level(1, 8.0, 60.0, 150.0), _level(50, *ours_n50)]},
        "baseline": {"label": "baseline", "model": "models/baseline.tar.gz", "skipped": None,
                     "ready": {"seconds": 25.0, "status_seconds": 24.0,
                               "first_answer_seconds": 1.0, "error": None},
                     "levels": [_level(1, 5.0, 100.0, 200.0),
                                _level(50, 25.0, 900.0, 4000.0, baseline_errors)]},
    }


def _targets(comparison):
    return {t["name"]: t for t in comparison["targets"]}


def test_targets_met_and_missed():
    comparison = compare(_results())
    targets = _targets(comparison)
    assert comparison["ratios"] == {
        "p50_ours_over_baseline_n1": 0.6,
        "throughput_ours_over_baseline_n50": 1.6,
        "p99_ours_ms_n50": 1500.0,
    }
    assert targets["ready"]["met"] is True and targets["ready"]["value"] == 12.0
    assert targets["p50_single"]["met"] is False  # 0.6x: not at most half
    assert targets["throughput_loaded"]["met"] is False  # 1.6x: not twice
    assert targets["p99_loaded"]["met"] is False  # 1.5 s


def test_targets_all_met():
    results = _results(ours_ready=19.9, ours_n50=(60.0, 200.0, 950.0))
    results["ours"]["levels"][0]["p50_ms"] = 50.0
    targets = _targets(compare(results))
    assert [targets[n]["met"] for n in ("ready", "p50_single", "throughput_loaded", "p99_loaded")] \
        == [True, True, True, True]
    assert targets["throughput_loaded"]["value"] == 2.4


def test_a_slow_start_and_errors_miss_their_targets():
    targets = _targets(compare(_results(ours_ready=20.5, ours_n50=(60.0, 200.0, 950.0), baseline_errors=3)))
    assert targets["ready"]["met"] is False
    assert targets["throughput_loaded"]["met"] is False
    assert "baseline: 3 errors at N=50" in targets["throughput_loaded"]["note"]
    assert targets["p99_loaded"]["met"] is True  # our own level had no errors


def test_without_the_baseline_the_comparisons_are_not_measured():
    results = _results()
    results["baseline"] = {"label": "baseline", "model": "models/baseline.tar.gz", "ready": None,
                           "levels": [], "skipped": "no model at models/baseline.tar.gz"}
    targets = _targets(compare(results))
    assert targets["p50_single"]["met"] is None and targets["throughput_loaded"]["met"] is None
    assert targets["p99_loaded"]["met"] is False and targets["ready"]["met"] is True
    text = text_table(results, compare(results))
    assert "baseline: not run (no model at models/baseline.tar.gz)" in text
    assert "NOT MEASURED" in text


def test_the_table_puts_both_bots_side_by_side():
    results = _results()
    table = rows(results)
    assert table[0][:3] == ["N", "msg/s (ours)", "msg/s (baseline)"]
    assert [row[0] for row in table[1:]] == ["1", "50"]
    assert table[2][1:3] == ["40.0", "25.0"]
    comparison = compare(results)
    text = text_table(results, comparison)
    assert "ours: ready in 12.0 s" in text and "NOT MET" in text and "-> MET" in text
    assert "booking_confirm 9/10" in text
    document = markdown(results, comparison, {"command": "python -m bot.bench"})
    assert "| N | msg/s (ours) | msg/s (baseline) |" in document


def test_the_files_are_written(tmp_path):
    results = _results()
    paths = write(tmp_path, results, compare(results), {"command": "x"})
    assert '"throughput_ours_over_baseline_n50": 1.6' in paths["json"].read_text(encoding="utf-8")
    assert paths["md"].read_text(encoding="utf-8").startswith("# Load benchmark")


# -- the chart ----------------------------------------------------------------


def test_the_chart_is_a_valid_png(tmp_path):
    path = write_chart(_results(), tmp_path / "chart" / "latency.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1100, 450)
    from matplotlib.image import imread
    assert imread(str(path)).shape[:2] == (450, 1100)  # it decodes


def test_the_chart_draws_one_bot_alone(tmp_path):
    results = {"ours": _results()["ours"]}
    assert write_chart(results, tmp_path / "one.png").stat().st_size > 1000


# -- the driver, against a stand-in for Rasa's REST channel -------------------


async def test_the_driver_runs_conversations_and_counts_errors(aiohttp_server):
    seen = []

    async def webhook(request):
        body = await request.json()
        seen.append((body["sender"], body["message"]))
        if body["message"] == "boom":
            return web.Response(status=500)
        return web.json_response([{"recipient_id": body["sender"], "text": f"好的 {body['message']}"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = await aiohttp_server(app)
    calls = iter(range(1000))

    def script():
        broken = next(calls) % 4 == 3
        return [Turn("greeting", "你好"), Turn("faq", "boom" if broken else "问题", expect="问题"),
                Turn("chitchat", "谢谢")]

    run = await run_level(str(server.make_url("")), 2, script, duration=None,
                          conversations=8, warmup=0.0, label="t")
    summary = summarize(run)
    assert summary["conversations"] == 8
    assert summary["errors"] == summary["errors_by_kind"].get("http_500", 0) >= 1
    worked = summary["checks"]["faq"]["worked"]
    assert worked + summary["errors"] == 8  # each measured conversation asked once
    assert summary["messages"] == 3 * worked + summary["errors"]  # a failed conversation stops
    by_sender = {}
    for sender, message in seen:
        by_sender.setdefault(sender, []).append(message)
    assert all(messages[0] == "你好" for messages in by_sender.values())
    assert all(sender.startswith("bench-t-2-") for sender in by_sender)


async def test_the_driver_stops_after_the_duration(aiohttp_server):
    async def webhook(request):
        return web.json_response([{"text": "ok"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = await aiohttp_server(app)
    run = await run_level(str(server.make_url("")), 3, lambda: [Turn("faq", "q")] * 5,
                          duration=0.3, warmup=0.1)
    summary = summarize(run)
    assert summary["messages"] > 0 and summary["errors"] == 0
    assert 0.2 <= summary["seconds"] <= 1.0
    assert summary["warmup_seconds"] >= 0.1


def test_memory_of_a_process_and_of_none():
    assert rss_mib(os.getpid()) > 10
    assert rss_mib(2 ** 22 + 12345) is None  # above Linux's pid limit


def test_cpu_time_of_a_busy_process_and_of_none():
    meter = CpuMeter({"me": os.getpid(), "gone": 2 ** 22 + 12345})
    meter.start()
    deadline = cpu_seconds(os.getpid()) + 0.3
    while cpu_seconds(os.getpid()) < deadline:  # burn 0.3 s of CPU
        sum(i * i for i in range(10_000))
    used = meter.stop()
    assert 0.25 <= used["me"] < 5 and used["client"] >= 0.25  # the client is this process
    assert used["gone"] is None


def test_default_options():
    args = parse_args([])
    assert args.levels == [1, 10, 50, 100] and args.duration == 30.0 and args.conversations is None
    assert args.baseline_model == get_settings().models_dir / "baseline.tar.gz"
    assert args.out == get_settings().var_dir / "bench"
    assert args.baseline_server == "plain"
    args = parse_args(["--only", "ours", "--levels", "1", "10", "--conversations", "20"])
    assert args.only == "ours" and args.levels == [1, 10] and args.duration is None
    with pytest.raises(SystemExit):
        parse_args(["--rasa-pid", "1"])
    with pytest.raises(SystemExit):
        parse_args(["--baseline-model", str(Path("models/baseline.zip"))])
