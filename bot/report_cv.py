"""k-fold cross-validation of our NLU pipeline on the training data.

Every intent's examples under data/nlu (each FAQ entry is its own intent
``faq/<id>``) are dealt into k folds by a hash of the text
(bot.training_split.assign_folds); the pipeline of config.yml is trained on
k-1 folds (`rasa train nlu` in a subprocess, private cache) and the k-th is
scored with bot.evaluation.Report. tests/heldout/ is not read.
"""
from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import yaml

from bot.evaluation import Report
from bot.settings import ROOT, get_settings
from bot.training_split import (
    fold_splits,
    nlu_config,
    nlu_train_args,
    parse_cases,
    read_nlu,
    run_rasa,
    write_nlu_dir,
)


@dataclass
class FoldResult:
    fold: int  # 1-based
    train_lines: int
    test_lines: int
    seconds: float  # training time
    report: Report

    def to_dict(self) -> dict:
        return {
            "fold": self.fold,
            "train_lines": self.train_lines,
            "test_lines": self.test_lines,
            "test_faq_lines": self.report.faq_total,
            "train_seconds": round(self.seconds, 1),
            "faq_top1_accuracy": round(self.report.top1_accuracy, 4),
            "intent_accuracy": round(self.report.intent_accuracy, 4),
            "summary": self.report.summary(),
        }


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for fewer than two values)."""
    if not values:
        return 0.0, 0.0
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def cv_command(folds: int, epochs: Optional[int]) -> str:
    trial = f" --epochs {epochs}" if epochs is not None else ""
    return (f"python -m rasa train nlu --config <config.yml pipeline{trial}> "
            f"--nlu <{folds - 1} of {folds} folds of data/nlu + data/responses> (per fold)")


def run_cross_validation(
    folds: int,
    epochs: Optional[int] = None,
    log_dir: Optional[Path] = None,
    progress: Callable[[str], None] = lambda message: None,
) -> List[FoldResult]:
    settings = get_settings()
    data = read_nlu(settings.nlu_dir)
    config = nlu_config(ROOT / "config.yml", epochs)
    results: List[FoldResult] = []
    with tempfile.TemporaryDirectory(prefix="report-cv-") as tmp:
        work = Path(tmp)
        config_path = work / "config.yml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
        for index, (train, test) in enumerate(fold_splits(data.examples, folds), start=1):
            fold_dir = work / f"fold{index}"
            nlu_dir = write_nlu_dir(fold_dir / "data", train, data.extras, settings.responses_dir)
            progress(f"cross-validation fold {index}/{folds}: training on {len(train)} lines")
            started = time.monotonic()
            run_rasa(
                nlu_train_args(config_path, nlu_dir, fold_dir, "model"),
                log=log_dir / f"cv-fold{index}.log" if log_dir else None,
                cache_dir=fold_dir / "cache",
            )
            seconds = time.monotonic() - started
            cases = [example.case() for example in test]
            report = Report()
            for case, parse in zip(cases, parse_cases(fold_dir / "model.tar.gz", cases)):
                report.add(case, parse)
            progress(f"cross-validation fold {index}/{folds}: FAQ top-1 "
                     f"{report.top1_accuracy:.3f} on {report.faq_total} lines ({seconds:.0f}s training)")
            results.append(FoldResult(index, len(train), len(test), seconds, report))
            shutil.rmtree(fold_dir, ignore_errors=True)
    return results
