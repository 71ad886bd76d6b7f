"""Choose pipeline settings on a development split, never on the test set.

    python -m bot.tune --epochs 40 60 100 [--dev-share 0.2]

Holds out a share of every FAQ entry's *training* phrasings (a deterministic
split), trains the NLU pipeline of config.yml on the rest with each candidate
number of epochs, and prints top-1 accuracy on the held-back phrasings and
the training time. tests/heldout/ is not read.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

import yaml

from bot.evaluation import Case, Report
from bot.faq.generate import nlu_yaml
from bot.faq.library import load_library
from bot.settings import ROOT, get_settings


def in_dev(text: str, share: float) -> bool:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return digest[0] / 256 < share


def split_library(share: float) -> Tuple[object, List[Case]]:
    library = load_library(get_settings().faq_dir)
    dev: List[Case] = []
    for entry in library.entries:
        kept = [t for t in entry.similar if not in_dev(t, share)]
        dev += [Case(t, "faq", entry.id) for t in entry.similar if in_dev(t, share)]
        entry.similar[:] = kept
    return library, dev


def config_with_epochs(epochs: int) -> dict:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = epochs
    config.pop("policies", None)
    return config


async def score(model: Path, cases: List[Case]) -> Report:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    report = Report()
    for case in cases:
        report.add(case, await agent.parse_message(case.text))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[60])
    parser.add_argument("--dev-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    library, dev = split_library(args.dev_share)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "data" / "nlu", work / "nlu")
        (work / "nlu" / "faq.yml").write_text(nlu_yaml(library), encoding="utf-8")
        print(f"dev split: {len(dev)} phrasings held back from {len(library.entries)} entries")
        for epochs in args.epochs:
            config = work / f"config-{epochs}.yml"
            config.write_text(yaml.safe_dump(config_with_epochs(epochs), allow_unicode=True))
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "rasa", "train", "nlu", "--config", str(config),
                 "--nlu", str(work / "nlu"), "--out", str(work), "--fixed-model-name", f"m{epochs}"],
                cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            seconds = time.monotonic() - started
            report = asyncio.run(score(work / f"m{epochs}.tar.gz", dev))
            print(
                f"epochs={epochs:4}  train {seconds:5.0f}s  dev top-1 {report.top1_accuracy:.3f}  "
                f"answered wrong {report.faq_answered_wrong}  did-you-mean {report.faq_clarified}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
