"""Accuracy report: our bot vs the plain Rasa Chinese recipe, on the held-out set.

    python -m bot.report [--out var/report] [--folds 5] [--skip-cv] [--skip-baseline]
                         [--skip-ours-timing] [--models-dir models]
                         [--baseline-model models/baseline.tar.gz] [--epochs N]

1. Scores our model (models/bot.tar.gz) on tests/heldout/ with bot.evaluation.Report.
2. Trains config/baseline.yml on the same data (data/, domain.yml) into
   models/baseline.tar.gz when it is missing or its inputs changed (fingerprint
   in models/baseline.fingerprint), and scores it the same way.
3. Times a cold training of config.yml once per change of its inputs
   (models/bot.timing.json; the trained copy is thrown away) so both training
   times are measured alike.
4. Cross-validates our NLU pipeline on the training data (k folds).
5. Writes accuracy.md, accuracy.json and accuracy.png to --out and prints the tables.

A full run trains the baseline for over an hour on a 2-core machine. --epochs
overrides every model's epochs, for quick trials only: use it with a
--models-dir outside models/ so a trial never replaces the real baseline.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import List, Optional

from bot.evaluation import Case, Report, heldout_cases
from bot.settings import ROOT, get_settings

DEFAULT_OUT = ROOT / "var" / "report"
DEFAULT_FOLDS = 5
BASELINE_CONFIG = ROOT / "config" / "baseline.yml"
OUR_CONFIG = ROOT / "config.yml"
BASELINE_NAME = "baseline.tar.gz"
# Where the measured training time of our pipeline is kept, in --models-dir.
OURS_TIMING_NAME = "bot.timing.json"


def log(message: str) -> None:
    print(f"[report] {message}", file=sys.stderr, flush=True)


def score(model: Path, cases: List[Case]) -> Report:
    """Report over `cases` for the model at `model` (loaded in this process)."""
    import gc

    from bot.training_split import parse_cases

    report = Report()
    for case, parse in zip(cases, parse_cases(model, cases)):
        report.add(case, parse)
    gc.collect()
    return report


def baseline_record_path(model: Path) -> Path:
    name = model.name[: -len(".tar.gz")] if model.name.endswith(".tar.gz") else model.stem
    return model.with_name(f"{name}.fingerprint")


def parse_args(argv=None) -> argparse.Namespace:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m bot.report", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[6:]),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="report directory (default: var/report)")
    parser.add_argument("--model", type=Path, default=settings.model_path,
                        help="our trained model (default: models/bot.tar.gz)")
    parser.add_argument("--models-dir", type=Path, default=settings.models_dir,
                        help="where the baseline and the training records are kept (default: models)")
    parser.add_argument("--baseline-model", type=Path, default=None,
                        help="the baseline model (default: <models-dir>/baseline.tar.gz); "
                             "its fingerprint is kept beside it")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                        help="cross-validation folds (default: 5)")
    parser.add_argument("--skip-cv", action="store_true", help="no cross-validation")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="neither train nor score the baseline")
    parser.add_argument("--skip-ours-timing", action="store_true",
                        help="do not train config.yml to time it (a stored fresh time is still shown)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override every model's epochs: quick trials only")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be positive")
    args.baseline_model = args.baseline_model or args.models_dir / BASELINE_NAME
    if args.epochs is not None and any(
        _inside(path, settings.models_dir) for path in (args.models_dir, args.baseline_model.parent)
    ):
        parser.error("--epochs is for trials: give a --models-dir outside models/ so the "
                     "trial never replaces the real baseline or its records")
    return args


def _inside(path: Path, directory: Path) -> bool:
    path, directory = path.resolve(), directory.resolve()
    return path == directory or directory in path.parents


def run(args: argparse.Namespace, argv: List[str]) -> int:
    from bot.report_cv import cv_command, run_cross_validation
    from bot.report_output import ModelResult, ReportData, stdout_text, write_report
    from bot.report_training import OUR_CODE_DIRS, TrainingJob, display_path

    settings = get_settings()
    started = time.monotonic()
    generated_at = datetime.now().astimezone().isoformat(timespec="seconds")
    logs = args.out / "logs"
    if not args.model.exists():
        log(f"no trained model at {args.model}: run `make train` first")
        return 2
    cases = heldout_cases(settings.heldout_dir)

    log(f"scoring our model {display_path(args.model)} on {len(cases)} held-out lines")
    ours = ModelResult("ours", display_path(args.model), display_path(OUR_CONFIG), score(args.model, cases))
    timing = TrainingJob("bot-timing", OUR_CONFIG, args.models_dir / OURS_TIMING_NAME,
                         epochs=args.epochs, code_dirs=OUR_CODE_DIRS)
    ours.training = timing.fresh_record()  # measured before, inputs unchanged since
    if ours.training is None and args.skip_ours_timing:
        ours.training_note = "not measured (--skip-ours-timing, no fresh record)"
    elif ours.training is None:
        log("timing a cold training of config.yml (the trained copy is thrown away)")
        ours.training = timing.train(logs / "ours-train.log")

    baseline: Optional[ModelResult] = None
    if not args.skip_baseline:
        job = TrainingJob("baseline", BASELINE_CONFIG, baseline_record_path(args.baseline_model),
                          model=args.baseline_model, epochs=args.epochs)
        record = job.fresh_record()
        if record is None:
            log(f"training the baseline into {display_path(args.baseline_model)} "
                "(missing or stale; over an hour without --epochs)")
            record = job.train(logs / "baseline-train.log")
        else:
            log(f"baseline {display_path(args.baseline_model)} is up to date (fingerprint matches)")
        log(f"scoring the baseline on {len(cases)} held-out lines")
        baseline = ModelResult("baseline", display_path(args.baseline_model),
                               display_path(BASELINE_CONFIG), score(args.baseline_model, cases), record)

    folds = []
    if not args.skip_cv:
        folds = run_cross_validation(args.folds, args.epochs, logs, log)

    data = ReportData(
        generated_at=generated_at,
        command=" ".join(["python -m bot.report", *map(shlex.quote, argv)]),
        ours=ours, baseline=baseline, folds=folds, epochs=args.epochs,
        cv_command=cv_command(args.folds, args.epochs) if folds else "",
        elapsed_seconds=time.monotonic() - started,
    )
    paths = write_report(args.out, data)
    print(stdout_text(data))
    log(f"wrote {', '.join(display_path(p) for p in paths.values())} "
        f"in {data.elapsed_seconds:.0f}s")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    # TensorFlow reads this when first imported (by Rasa, inside run).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return run(args, argv)
    except subprocess.CalledProcessError as error:
        log(f"training failed (exit {error.returncode}); its log is under {args.out / 'logs'}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
