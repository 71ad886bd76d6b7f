"""The load benchmark's figures side by side: ratios, targets, the text
table printed to the terminal, and the JSON and Markdown files.

A bot's result is a dict: ``label``, ``model``, ``ready`` (``seconds`` from
process start to a first answer, ``status_seconds`` until /status answered,
``first_answer_seconds``; None when a running server was measured),
``levels`` (one ``bench_load.summarize`` dict per N with ``rss_peak_mib``),
and ``skipped`` (why it was not run, or None).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Dict, List, Optional

READY_LIMIT_S = 20.0
P50_RATIO_LIMIT = 0.5  # ours / baseline at N=1: at most half
THROUGHPUT_RATIO_LIMIT = 2.0  # ours / baseline at N=50: at least twice
P99_LIMIT_MS = 1000.0  # ours at N=50: below 1 s
SINGLE, LOADED = 1, 50
SIDES = ("ours", "baseline")


def level(result: Optional[dict], concurrency: int) -> Optional[dict]:
    if not result or result.get("skipped"):
        return None
    return next((l for l in result.get("levels", []) if l["concurrency"] == concurrency), None)


def _figure(result: Optional[dict], concurrency: int, key: str) -> Optional[float]:
    found = level(result, concurrency)
    return None if found is None else found.get(key)


def _ratio(ours: Optional[float], baseline: Optional[float]) -> Optional[float]:
    if ours is None or baseline is None or baseline == 0:
        return None
    return round(ours / baseline, 3)


def _errors_note(results: Dict[str, dict], concurrency: int, sides) -> Optional[str]:
    notes = []
    for side in sides:
        found = level(results.get(side), concurrency)
        if found and found["errors"]:
            notes.append(f"{side}: {found['errors']} errors at N={concurrency}")
    if notes:
        return "errors during the level: " + "; ".join(notes)
    return None


def _target(name: str, description: str, value: Optional[float], unit: str,
            passes: Callable[[float], bool], missing: str, failure: Optional[str]) -> dict:
    """A target is not met when the run that measured it had a failure."""
    if value is None:
        met, note = None, f"needs {missing}"
    elif failure:
        met, note = False, failure
    else:
        met, note = passes(value), None
    return {"name": name, "target": description, "value": value, "unit": unit,
            "met": met, "note": note}


def compare(results: Dict[str, dict]) -> dict:
    """Ratios of our bot to the baseline and whether each target is met
    (True, False, or None when a figure needed was not measured)."""
    ours, baseline = results.get("ours"), results.get("baseline")
    ready = (ours or {}).get("ready") or {}
    p50_ratio = _ratio(_figure(ours, SINGLE, "p50_ms"), _figure(baseline, SINGLE, "p50_ms"))
    throughput_ratio = _ratio(
        _figure(ours, LOADED, "throughput"), _figure(baseline, LOADED, "throughput")
    )
    p99 = _figure(ours, LOADED, "p99_ms")

    def missing(*needed) -> str:
        return ", ".join(needed)

    targets = [
        _target(
            "ready", f"our bot ready (first answer) within {READY_LIMIT_S:.0f} s",
            ready.get("seconds"), "s", lambda v: v <= READY_LIMIT_S,
            missing("our bot was not started by the benchmark" if ours and not ready
                    else "our bot's time to ready"),
            f"the first message failed: {ready['error']}" if ready.get("error") else None,
        ),
        _target(
            "p50_single", f"N={SINGLE}: our p50 at most {P50_RATIO_LIMIT:g}x the baseline's",
            p50_ratio, "x", lambda v: v <= P50_RATIO_LIMIT,
            missing(f"p50 at N={SINGLE} of both bots"),
            _errors_note(results, SINGLE, SIDES),
        ),
        _target(
            "throughput_loaded",
            f"N={LOADED}: our throughput at least {THROUGHPUT_RATIO_LIMIT:g}x the baseline's",
            throughput_ratio, "x", lambda v: v >= THROUGHPUT_RATIO_LIMIT,
            missing(f"throughput at N={LOADED} of both bots"),
            _errors_note(results, LOADED, SIDES),
        ),
        _target(
            "p99_loaded", f"N={LOADED}: our p99 below {P99_LIMIT_MS:.0f} ms",
            p99, "ms", lambda v: v < P99_LIMIT_MS,
            missing(f"our p99 at N={LOADED}"), _errors_note(results, LOADED, ("ours",)),
        ),
    ]
    return {
        "ratios": {
            f"p50_ours_over_baseline_n{SINGLE}": p50_ratio,
            f"throughput_ours_over_baseline_n{LOADED}": throughput_ratio,
            f"p99_ours_ms_n{LOADED}": p99,
        },
        "targets": targets,
    }


# -- rendering --------------------------------------------------------------

COLUMNS = [  # (heading, key, format)
    ("msg/s", "throughput", "{:.1f}"),
    ("p50 ms", "p50_ms", "{:.0f}"),
    ("p95 ms", "p95_ms", "{:.0f}"),
    ("p99 ms", "p99_ms", "{:.0f}"),
    ("errors", "errors", "{:d}"),
    ("peak RSS MiB", "rss_peak_mib", "{:.0f}"),
]


def _cell(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _present(results: Dict[str, dict]) -> List[str]:
    return [side for side in SIDES if side in results] + [s for s in results if s not in SIDES]


def rows(results: Dict[str, dict]) -> List[List[str]]:
    """The side-by-side table: one row per N, each figure for each bot."""
    sides = _present(results)
    header = ["N"] + [f"{heading} ({side})" for heading, _k, _f in COLUMNS for side in sides]
    levels = sorted({l["concurrency"] for side in sides for l in results[side].get("levels", [])})
    body = [
        [str(n)] + [
            _cell(_figure(results[side], n, key), fmt)
            for _heading, key, fmt in COLUMNS for side in sides
        ]
        for n in levels
    ]
    return [header] + body


def _ready_lines(results: Dict[str, dict]) -> List[str]:
    lines = []
    for side in _present(results):
        result = results[side]
        ready = result.get("ready")
        if result.get("skipped"):
            lines.append(f"{side}: not run ({result['skipped']})")
        elif not ready:
            lines.append(f"{side}: time to ready not measured (a running server was benchmarked)")
        elif ready.get("error"):
            lines.append(f"{side}: the first message failed ({ready['error']})")
        else:
            server = f" on `{result['server']}`" if result.get("server") else ""
            lines.append(
                f"{side}{server}: ready in {ready['seconds']:.1f} s "
                f"(/status after {ready['status_seconds']:.1f} s, "
                f"first answer {ready['first_answer_seconds'] * 1000:.0f} ms later)"
            )
    return lines


def _value(target: dict) -> str:
    value = target["value"]
    if value is None:
        return "-"
    return {"x": f"{value:.2f}x", "ms": f"{value:.0f} ms", "s": f"{value:.1f} s"}[target["unit"]]


def _verdict(target: dict) -> str:
    verdict = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[target["met"]]
    return f"{verdict} ({target['note']})" if target["note"] else verdict


def _checks_lines(results: Dict[str, dict]) -> List[str]:
    lines = []
    for side in _present(results):
        for found in results[side].get("levels", []):
            parts = [f"{kind} {c['worked']}/{c['tried']}" for kind, c in found["checks"].items()]
            parts.append(f"handed to a person {found['handoffs']}")
            if found["errors_by_kind"]:
                parts.append("errors " + ", ".join(f"{k} {v}" for k, v in found["errors_by_kind"].items()))
            if found.get("cores_used"):
                parts.append("cores used " + ", ".join(
                    f"{name} {used}" for name, used in found["cores_used"].items()))
            if found.get("profile"):
                parts.append(f"py-spy flame graph {found['profile']['svg'] or 'not written'}")
            lines.append(
                f"{side} N={found['concurrency']}: {found['messages']} messages, "
                f"{found['conversations']} conversations in {found['seconds']:.1f} s; "
                + "; ".join(parts)
            )
    return lines


def text_table(results: Dict[str, dict], comparison: dict) -> str:
    table = rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    out = ["Time to ready:", *("  " + l for l in _ready_lines(results)), "", *lines, "",
           "What the conversations achieved (checks: replies showing the step worked):",
           *("  " + l for l in _checks_lines(results)), "", "Targets:"]
    out += [f"  {t['target']}: {_value(t)} -> {_verdict(t)}" for t in comparison["targets"]]
    return "\n".join(out)


def markdown(results: Dict[str, dict], comparison: dict, meta: dict) -> str:
    table = rows(results)
    out = [
        "# Load benchmark: our bot vs the plain Rasa recipe", "",
        f"Measured {meta.get('finished_at', '')} on {meta.get('cpus', '?')} CPUs "
        f"(load average at start: {meta.get('load_average', '?')}); "
        f"{meta.get('bound', '')}, warm-up at least {meta.get('warmup', '?')} s; "
        f"per-message timeout {meta.get('timeout', '?')} s. Command: `{meta.get('command', '')}`.", "",
        "## Time to ready", "", *(f"- {l}" for l in _ready_lines(results)), "",
        "## Per level", "",
        "| " + " | ".join(table[0]) + " |",
        "|" + "|".join("---:" for _ in table[0]) + "|",
        *("| " + " | ".join(row) + " |" for row in table[1:]), "",
        "Latency is per message, answered messages only; throughput is answered messages",
        "per second over the measured window; peak RSS is the Rasa server's VmRSS.", "",
        "## What the conversations achieved", "", *(f"- {l}" for l in _checks_lines(results)), "",
        "## Targets", "",
        "| target | value | verdict |", "|---|---:|---|",
        *(f"| {t['target']} | {_value(t)} | {_verdict(t)} |" for t in comparison["targets"]), "",
    ]
    return "\n".join(out)


def write(out_dir: Path, results: Dict[str, dict], comparison: dict, meta: dict) -> Dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "bench.json", "md": out_dir / "bench.md"}
    document = {"meta": meta, "bots": results, "comparison": comparison}
    paths["json"].write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["md"].write_text(markdown(results, comparison, meta), encoding="utf-8")
    return paths
