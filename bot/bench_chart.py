"""The load benchmark's chart: latency percentiles and throughput against the
number of concurrent conversations, for each bot measured (a PNG, Agg)."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict

COLOURS = {"ours": "tab:blue", "baseline": "tab:orange"}
LABELS = {"ours": "our bot", "baseline": "baseline recipe"}
PERCENTILES = (("p50_ms", "p50", "-"), ("p95_ms", "p95", "--"), ("p99_ms", "p99", ":"))


def write_chart(results: Dict[str, dict], path: Path) -> Path:
    """Draw every bot's levels into ``path`` (PNG); bots without levels are left out."""
    with warnings.catch_warnings():
        # matplotlib 3.5 calls pyparsing's deprecated names: noise, not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _draw(results, path)


def _draw(results: Dict[str, dict], path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    latency, throughput = figure.subplots(1, 2)
    levels_seen = set()
    for side, result in results.items():
        levels = sorted(result.get("levels") or [], key=lambda l: l["concurrency"])
        if not levels:
            continue
        colour, name = COLOURS.get(side, "tab:gray"), LABELS.get(side, side)
        xs = [l["concurrency"] for l in levels]
        levels_seen.update(xs)
        for key, label, style in PERCENTILES:
            points = [(x, l[key]) for x, l in zip(xs, levels) if l.get(key) is not None]
            if points:
                latency.plot(*zip(*points), style, marker="o", color=colour, label=f"{name} {label}")
        points = [(x, l["throughput"]) for x, l in zip(xs, levels) if l.get("throughput") is not None]
        if points:
            throughput.plot(*zip(*points), "-", marker="o", color=colour, label=name)
    ticks = sorted(levels_seen)
    for axes in (latency, throughput):
        axes.set_xlabel("concurrent conversations (N)")
        if ticks:
            axes.set_xscale("log")
            axes.set_xticks(ticks)
            axes.set_xticklabels([str(t) for t in ticks])
            axes.minorticks_off()
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=8)
    drawn = [y for line in latency.get_lines() for y in line.get_ydata() if y > 0]
    if drawn and max(drawn) / min(drawn) > 20:
        latency.set_yscale("log")  # single-conversation and loaded latencies both readable
    latency.set_title("Latency per message")
    latency.set_ylabel("latency (ms)")
    throughput.set_title("Throughput")
    throughput.set_ylabel("messages per second")
    throughput.set_ylim(bottom=0)
    figure.suptitle("Load benchmark over Rasa's REST channel")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
