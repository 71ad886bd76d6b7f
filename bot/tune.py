"""Choose pipeline settings on a development split, never on the test set.

    python -m bot.tune --epochs 40 60 100 [--dev-share 0.2]
                       [--set ResponseSelector.learning_rate=0.003 ...]

Holds out a share of every FAQ entry's *training* phrasings (a deterministic
split), trains the NLU pipeline of config.yml on the rest with each candidate
number of epochs, and prints top-1 accuracy on the held-back phrasings and
the training time. tests/heldout/ is not read.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List

import yaml

from bot.evaluation import Case, Report
from bot.faq.generate import nlu_yaml
from bot.settings import ROOT
from bot.training_split import (
    config_with,
    nlu_train_args,
    parse_cases,
    run_rasa,
    split_library,
)


def gate_outcomes(cases: List[Case], parses: List[dict], threshold: float, ambiguity: float):
    """(answered right, answered wrong, asked did-you-mean) if both fallback
    thresholds were `threshold` and both ambiguity thresholds `ambiguity`."""
    right = wrong = unsure = 0
    for case, parse in zip(cases, parses):
        intents = [i for i in parse.get("intent_ranking", []) if i["name"] != "nlu_fallback"]
        ranking = ((parse.get("response_selector") or {}).get("faq") or {}).get("ranking") or []
        if not intents or intents[0]["name"] != "faq" or not ranking:
            continue
        second_intent = intents[1]["confidence"] if len(intents) > 1 else 0.0
        second_answer = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        confident = (
            intents[0]["confidence"] >= threshold
            and intents[0]["confidence"] - second_intent >= ambiguity
            and ranking[0]["confidence"] >= threshold
            and ranking[0]["confidence"] - second_answer >= ambiguity
        )
        if not confident:
            unsure += 1
        elif ranking[0]["intent_response_key"] == f"faq/{case.faq_id}":
            right += 1
        else:
            wrong += 1
    return right, wrong, unsure


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[60])
    parser.add_argument("--dev-share", type=float, default=0.2)
    parser.add_argument("--set", nargs="*", default=[], metavar="COMPONENT.KEY=VALUE")
    args = parser.parse_args(argv)
    library, dev = split_library(args.dev_share)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "data" / "nlu", work / "nlu")
        shutil.copytree(ROOT / "data" / "responses", work / "nlu" / "responses")
        (work / "nlu" / "faq.yml").write_text(nlu_yaml(library), encoding="utf-8")
        print(f"dev split: {len(dev)} phrasings held back from {len(library.entries)} entries")
        for epochs in args.epochs:
            config = work / f"config-{epochs}.yml"
            config.write_text(yaml.safe_dump(config_with(epochs, args.set), allow_unicode=True))
            started = time.monotonic()
            run_rasa(nlu_train_args(config, work / "nlu", work, f"m{epochs}"))
            seconds = time.monotonic() - started
            parses = parse_cases(work / f"m{epochs}.tar.gz", dev)
            report = Report()
            for case, parse in zip(dev, parses):
                report.add(case, parse)
            print(
                f"epochs={epochs:4}  train {seconds:5.0f}s  dev top-1 {report.top1_accuracy:.3f}  "
                f"answered wrong {report.faq_answered_wrong}  did-you-mean {report.faq_clarified}  "
                f"not-faq intent {report.faq_intent_missed}",
                flush=True,
            )
            for threshold in (0.1, 0.2, 0.3, 0.4):
                for ambiguity in (0.0, 0.05, 0.1):
                    right, wrong, unsure = gate_outcomes(dev, parses, threshold, ambiguity)
                    print(f"    gate {threshold:.2f}/{ambiguity:.2f}: right {right:4} "
                          f"wrong {wrong:4} did-you-mean {unsure:4}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
