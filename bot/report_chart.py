"""The accuracy report's chart (PNG): ours vs the baseline on the held-out
set, and our cross-validation folds. Matplotlib's Agg canvas, no display and
no pyplot state; English labels only (the fonts may lack CJK glyphs)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from bot.evaluation import Report

OURS_COLOR = "#1f77b4"
BASELINE_COLOR = "#bbbbbb"


def chart_measures(report: Report) -> List[Tuple[str, float]]:
    """(label, value in 0..1) of the bars, in order."""
    return [
        ("FAQ top-1", report.top1_accuracy),
        ("answered directly\n& right", report.answered_right_rate),
        ("did-you-mean\nrate", report.did_you_mean_rate),
        ("OOS precision", report.oos_precision),
        ("OOS recall", report.oos_recall),
    ]


def write_chart(
    path: Path,
    ours: Report,
    baseline: Optional[Report] = None,
    cv_top1: Sequence[float] = (),
    title: str = "Held-out set: ours vs plain Rasa recipe",
) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    bars, folds = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1.4]})

    measures = chart_measures(ours)
    positions = list(range(len(measures)))
    width = 0.38 if baseline is not None else 0.6
    series = [("ours", ours, OURS_COLOR)]
    if baseline is not None:
        series.append(("baseline (plain recipe)", baseline, BASELINE_COLOR))
    for number, (label, report, color) in enumerate(series):
        offset = (number - (len(series) - 1) / 2) * width
        values = [value for _, value in chart_measures(report)]
        drawn = bars.bar([p + offset for p in positions], values, width, label=label, color=color)
        bars.bar_label(drawn, labels=[f"{v:.0%}" for v in values], fontsize=8, padding=2)
    bars.set_xticks(positions)
    bars.set_xticklabels([label for label, _ in measures], fontsize=9)
    bars.set_ylim(0, 1.22)
    bars.set_ylabel("share")
    bars.set_title(title, fontsize=11)
    bars.legend(loc="upper center", ncol=2, fontsize=8)
    bars.grid(axis="y", alpha=0.3)

    if cv_top1:
        numbers = list(range(1, len(cv_top1) + 1))
        drawn = folds.bar(numbers, list(cv_top1), 0.6, color=OURS_COLOR)
        folds.bar_label(drawn, labels=[f"{v:.1%}" for v in cv_top1], fontsize=8, padding=2)
        mean = sum(cv_top1) / len(cv_top1)
        folds.axhline(mean, color="black", linestyle="--", linewidth=1, label=f"mean {mean:.1%}")
        folds.set_xticks(numbers)
        folds.legend(loc="lower right", fontsize=8)
    else:
        folds.text(0.5, 0.5, "cross-validation skipped", ha="center", va="center",
                   transform=folds.transAxes)
        folds.set_xticks([])
    folds.set_ylim(0, 1.05)
    folds.set_xlabel("fold")
    folds.set_ylabel("FAQ top-1")
    folds.set_title(f"Ours: {len(cv_top1)}-fold CV on training data" if cv_top1 else "Ours: CV",
                    fontsize=11)
    folds.grid(axis="y", alpha=0.3)

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
