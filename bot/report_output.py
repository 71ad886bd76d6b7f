"""The accuracy report's files: accuracy.md, accuracy.json and accuracy.png.

Only FAQ ids, intent names and counts are written: never a held-out line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from bot.evaluation import Report, short_label
from bot.report_chart import write_chart
from bot.report_cv import FoldResult, mean_std
from bot.report_training import TrainingRecord

SCORING_RULE = (
    "Both models are scored by the same rule, from Rasa's parse of each line alone "
    "(`bot.evaluation.Report`). FAQ top-1: the classifier's intent, looking through "
    "`nlu_fallback`, is `faq` and the ResponseSelector's first candidate is the expected "
    "entry. Answered directly: the final intent is `faq` (the bot gives that first "
    "candidate's answer). Did-you-mean: the final intent is `nlu_fallback`, whoever "
    "raised it (Rasa's FallbackClassifier, in both pipelines, or our FaqConfidenceGate): "
    "the rule \"unsure what the customer means\" then runs action_clarify, which asks "
    "\"您是不是想问\" with the selector's first 3 candidates as buttons (none when the "
    "first scores below 0.05). Out-of-scope precision/recall: final intent "
    "`out_of_scope`. Other intents: final intent equals the expected one. Intent "
    "accuracy (all lines): the classifier's intent, through the fallback, is the expected one."
)


@dataclass
class ModelResult:
    label: str  # "ours" or "baseline"
    model: str  # path as shown
    config: str
    report: Report
    training: Optional[TrainingRecord] = None
    training_note: str = ""  # why no training time, when there is none


@dataclass
class ReportData:
    generated_at: str
    command: str
    ours: ModelResult
    baseline: Optional[ModelResult] = None
    folds: List[FoldResult] = field(default_factory=list)
    epochs: Optional[int] = None
    cv_command: str = ""
    elapsed_seconds: float = 0.0
    notes: List[str] = field(default_factory=list)


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "n/a"
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {rest:02d} s"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def measure_rows(report: Report) -> Dict[str, str]:
    """The table's rows for one model: measure -> formatted value."""
    r = report
    return {
        "FAQ lines": str(r.faq_total),
        "FAQ top-1 (right entry ranked first)": f"**{percent(r.faq_top1, r.faq_total)}** ({r.faq_top1} / {r.faq_total})",
        "answered directly and right": f"{r.faq_answered_right} ({percent(r.faq_answered_right, r.faq_total)})",
        "answered directly and wrong": f"{r.faq_answered_wrong} ({percent(r.faq_answered_wrong, r.faq_total)})",
        "did-you-mean (“您是不是想问”) rate": f"{r.faq_clarified} ({percent(r.faq_clarified, r.faq_total)})",
        "… right entry among its 3 buttons": f"{r.faq_clarified_with_right_in_top3} of {r.faq_clarified} "
        f"({percent(r.faq_clarified_with_right_in_top3, r.faq_clarified)})",
        "FAQ lines not classified as FAQ": str(r.faq_intent_missed),
        "out-of-scope precision": f"{r.oos_precision:.2f} ({r.oos_true_positive} / {r.oos_predicted})",
        "out-of-scope recall": f"{r.oos_recall:.2f} ({r.oos_true_positive} / {r.oos_total})",
        "out-of-scope lines given a handbook answer": str(r.oos_given_handbook_answer),
        "other intents accuracy": f"{percent(r.other_right, r.other_total)} ({r.other_right} / {r.other_total})",
        "intent accuracy, all lines (classifier)": f"{percent(r.intent_right, r.intent_total)} "
        f"({r.intent_right} / {r.intent_total})",
    }


def training_cell(result: ModelResult) -> str:
    record = result.training
    if record is None:
        return result.training_note or "not measured"
    trial = f", --epochs {record.epochs} trial" if record.epochs is not None else ""
    return f"{duration(record.seconds)} ({'this run' if record.trained_now else record.trained_at[:10]}{trial})"


def comparison_table(data: ReportData) -> str:
    results = [data.ours] + ([data.baseline] if data.baseline else [])
    header = "| measure | " + " | ".join(
        "ours (config.yml)" if r.label == "ours" else "baseline (config/baseline.yml)" for r in results
    ) + " |"
    lines = [header, "|---|" + "---|" * len(results)]
    rows = [measure_rows(r.report) for r in results]
    for measure in rows[0]:
        lines.append(f"| {measure} | " + " | ".join(row[measure] for row in rows) + " |")
    lines.append("| training time (cold, full `rasa train`) | "
                 + " | ".join(training_cell(r) for r in results) + " |")
    return "\n".join(lines)


def cv_table(folds: List[FoldResult]) -> str:
    lines = [
        "| fold | training lines | test lines (FAQ) | FAQ top-1 | intent accuracy | training time |",
        "|---|---|---|---|---|---|",
    ]
    for f in folds:
        lines.append(
            f"| {f.fold} | {f.train_lines} | {f.test_lines} ({f.report.faq_total}) | "
            f"{f.report.top1_accuracy:.1%} ({f.report.faq_top1} / {f.report.faq_total}) | "
            f"{f.report.intent_accuracy:.1%} | {duration(f.seconds)} |"
        )
    top1 = mean_std([f.report.top1_accuracy for f in folds])
    intent = mean_std([f.report.intent_accuracy for f in folds])
    seconds = mean_std([f.seconds for f in folds])
    lines.append(
        f"| **mean ± std** | | | **{top1[0]:.1%} ± {top1[1]:.1%}** | "
        f"{intent[0]:.1%} ± {intent[1]:.1%} | {duration(seconds[0])} |"
    )
    return "\n".join(lines)


def intent_confusion_lines(report: Report, n: int = 10) -> List[str]:
    pairs = report.top_intent_confusions(n)
    if not pairs:
        return ["(none)"]
    return [
        f"{i}. `{expected}` → `{final}`"
        + (f" (classifier: `{underlying}`)" if underlying != final else "")
        + f" ({count})"
        for i, (expected, final, underlying, count) in enumerate(pairs, start=1)
    ]


def confusion_section(data, title: str, note: str, lines_of) -> List[str]:
    """A markdown section listing `lines_of(report)` for ours, then the baseline."""
    out = ["", f"## {title}", "", note, "", "Ours:", "", *lines_of(data.ours.report)]
    if data.baseline:
        out += ["", "Baseline:", "", *lines_of(data.baseline.report)]
    return out


def confusion_lines(report: Report, n: int = 10) -> List[str]:
    pairs = report.top_confusions(n)
    if not pairs:
        return ["(none)"]
    return [f"{i}. `{short_label(a)}` → `{short_label(b)}` ({count})"
            for i, (a, b, count) in enumerate(pairs, start=1)]


def stdout_text(data: ReportData) -> str:
    parts = [comparison_table(data)]
    if data.folds:
        parts += ["", f"Our pipeline, {len(data.folds)}-fold cross-validation on the training data:",
                  cv_table(data.folds)]
    return "\n".join(parts)


def markdown(data: ReportData) -> str:
    out = [
        "# Accuracy report: our pipeline vs the plain Rasa Chinese recipe",
        "",
        f"Generated {data.generated_at} by `{data.command}` "
        f"in {duration(data.elapsed_seconds)}.",
    ]
    if data.epochs is not None:
        out += ["", f"**Trial run: every trained model used --epochs {data.epochs}; "
                "these figures are not comparable with a real run.**"]
    out += [
        "",
        "## Held-out test set (`tests/heldout/`, never trained or tuned on)",
        "",
        comparison_table(data),
        "",
        f"Models: ours `{data.ours.model}`" + (f", baseline `{data.baseline.model}`" if data.baseline else
                                                 " (baseline skipped)") + ".",
        "",
        "![chart](accuracy.png)",
        "",
        "### How a parse is scored",
        "",
        SCORING_RULE,
        "",
        "### Training",
        "",
    ]
    for result in [data.ours] + ([data.baseline] if data.baseline else []):
        record = result.training
        if record is None:
            out.append(f"- {result.label} (`{result.config}`): {result.training_note or 'not measured'}")
            continue
        out.append(
            f"- {result.label} (`{result.config}`): {duration(record.seconds)}, trained at "
            f"{record.trained_at} ({'by this run' if record.trained_now else 'reused: inputs unchanged since'}), "
            f"load average {record.load_average} at the start, "
            f"fingerprint `{record.fingerprint[:12]}`; `{record.command}`"
        )
    out += [
        "",
        "Times are wall-clock `rasa train` (NLU and dialogue policies) in a subprocess with an "
        "empty training cache, on this machine; other work running at the time slows them. "
        "Our time is that of a separate cold training of `config.yml` on the same data (the "
        "copy is thrown away); the model scored is the one `make train` built.",
    ]
    out += confusion_section(
        data,
        "Most frequent FAQ confusions (expected → predicted, count)",
        "`<intent>`: the classifier did not take the line for an FAQ question.",
        confusion_lines,
    )
    out += confusion_section(
        data,
        "Out-of-scope and other-intent lines answered otherwise (expected → answered, count)",
        "`nlu_fallback` is the “您是不是想问” question; the classifier's own intent is shown "
        "when a fallback replaced it.",
        intent_confusion_lines,
    )
    out += ["", "## Cross-validation of our pipeline on the training data", ""]
    if data.folds:
        out += [
            f"Every intent's examples in `data/nlu` (each FAQ entry is its own intent) dealt into "
            f"{len(data.folds)} folds by a hash of the text (`bot.training_split.assign_folds`); "
            "the NLU pipeline of `config.yml` trained on the other folds and scored on each "
            "with the same scorer. Std is the sample standard deviation.",
            "",
            cv_table(data.folds),
            "",
            f"Command per fold: `{data.cv_command}`",
        ]
    else:
        out.append("Skipped (`--skip-cv`).")
    out += [
        "",
        "## Commands",
        "",
        f"- this report: `{data.command}`",
        "- our model alone, same scorer: `make evaluate` (`python -m bot.evaluate`)",
    ]
    for result in [data.ours] + ([data.baseline] if data.baseline else []):
        if result.training is not None:
            out.append(f"- {result.label} training: `{result.training.command}`")
    for note in data.notes:
        out.append(f"- {note}")
    return "\n".join(out) + "\n"


def model_json(result: ModelResult) -> dict:
    return {
        "model": result.model,
        "config": result.config,
        "summary": result.report.summary(),
        "oos_true_positive": result.report.oos_true_positive,
        "oos_predicted": result.report.oos_predicted,
        "top_confusions": [
            {"expected": short_label(a), "predicted": short_label(b), "count": n}
            for a, b, n in result.report.top_confusions(10)
        ],
        "intent_confusions": [
            {"expected": expected, "answered": final, "classifier": underlying, "count": n}
            for expected, final, underlying, n in result.report.top_intent_confusions(10)
        ],
        "training": result.training.to_dict() if result.training else None,
        "training_note": result.training_note or None,
    }


def to_json(data: ReportData) -> dict:
    top1 = mean_std([f.report.top1_accuracy for f in data.folds])
    intent = mean_std([f.report.intent_accuracy for f in data.folds])
    return {
        "generated_at": data.generated_at,
        "command": data.command,
        "epochs_override": data.epochs,
        "elapsed_seconds": round(data.elapsed_seconds, 1),
        "scoring_rule": SCORING_RULE,
        "models": {
            "ours": model_json(data.ours),
            "baseline": model_json(data.baseline) if data.baseline else None,
        },
        "cross_validation": {
            "folds": [f.to_dict() for f in data.folds],
            "faq_top1_mean": round(top1[0], 4),
            "faq_top1_std": round(top1[1], 4),
            "intent_accuracy_mean": round(intent[0], 4),
            "intent_accuracy_std": round(intent[1], 4),
            "command": data.cv_command,
        } if data.folds else None,
    }


def write_report(out_dir: Path, data: ReportData) -> Dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "md": out_dir / "accuracy.md",
        "json": out_dir / "accuracy.json",
        "png": out_dir / "accuracy.png",
    }
    paths["md"].write_text(markdown(data), encoding="utf-8")
    paths["json"].write_text(json.dumps(to_json(data), ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")
    title = "Held-out set: ours vs plain Rasa recipe"
    if data.epochs is not None:
        title += f" (TRIAL: --epochs {data.epochs})"
    write_chart(paths["png"], data.ours.report, data.baseline.report if data.baseline else None,
                [f.report.top1_accuracy for f in data.folds], title=title)
    return paths
