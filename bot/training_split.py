"""Splitting the training data and training on a part of it (shared by the
tuning command, bot.tune, and the accuracy report's cross-validation).

Every split is decided by a hash of the text, so it is the same on every
machine and every run. Nothing here reads tests/heldout/.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from bot.evaluation import Case
from bot.faq.library import load_library
from bot.settings import ROOT, get_settings

# Components and policies whose training length an --epochs override sets.
EPOCH_COMPONENTS = ("DIETClassifier", "ResponseSelector", "TEDPolicy", "UnexpecTEDIntentPolicy")
# Entity annotations ([text](entity), [text]{...}) as Rasa's YAML allows them.
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def in_dev(text: str, share: float) -> bool:
    return text_hash(text)[0] / 256 < share


def split_library(share: float) -> Tuple[object, List[Case]]:
    """The FAQ library with a `share` of every entry's similar questions
    taken out (the standard question always stays), and those as cases."""
    library = load_library(get_settings().faq_dir)
    dev: List[Case] = []
    for entry in library.entries:
        kept = [t for t in entry.similar if not in_dev(t, share)]
        dev += [Case(t, "faq", entry.id) for t in entry.similar if in_dev(t, share)]
        entry.similar[:] = kept
    return library, dev


# --- k-fold cross-validation over data/nlu -----------------------------------


@dataclass(frozen=True)
class Example:
    text: str
    intent: str  # as written in the data: "faq/<id>" or "greet"

    def case(self) -> Case:
        plain = _ANNOTATION.sub(r"\1", self.text)
        if self.intent.startswith("faq/"):
            return Case(plain, "faq", self.intent.split("/", 1)[1])
        return Case(plain, self.intent)


@dataclass
class NluData:
    examples: List[Example]
    # Items that are not intent examples (synonyms, regexes, lookup tables):
    # kept in every training split.
    extras: List[dict]


def read_nlu(nlu_dir: Path) -> NluData:
    """Every intent example under `nlu_dir` (Rasa YAML), in file order, each
    (text, intent) once."""
    examples: List[Example] = []
    extras: List[dict] = []
    seen = set()
    for path in sorted(p for p in nlu_dir.rglob("*") if p.suffix in (".yml", ".yaml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in item:
                extras.append(item)
                continue
            for line in str(item.get("examples") or "").splitlines():
                text = line.strip()
                if not text.startswith("- "):
                    continue
                example = Example(" ".join(text[2:].split()), str(item["intent"]))
                if example.text and example not in seen:
                    seen.add(example)
                    examples.append(example)
    return NluData(examples, extras)


def assign_folds(examples: Sequence[Example], folds: int) -> List[Optional[int]]:
    """The test fold of every example (None: always trained on).

    Stratified by intent (every FAQ entry is its own intent ``faq/<id>``):
    an intent's examples are ordered by the hash of their text and dealt out
    round-robin, starting at a fold chosen by the hash of the intent's name
    so that remainders spread over the folds. Every fold then holds about
    1/k of every intent, and every training split keeps the rest of it; an
    intent with a single example is never tested and always trained on.
    """
    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    groups: Dict[str, List[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        groups[example.intent].append(index)
    assigned: List[Optional[int]] = [None] * len(examples)
    for intent, indices in groups.items():
        if len(indices) < 2:
            continue
        ordered = sorted(indices, key=lambda i: (text_hash(examples[i].text), i))
        start = int.from_bytes(text_hash(intent)[:4], "big") % folds
        for rank, index in enumerate(ordered):
            assigned[index] = (start + rank) % folds
    return assigned


def fold_splits(examples: Sequence[Example], folds: int) -> List[Tuple[List[Example], List[Example]]]:
    """(training examples, test examples) for each fold, in data order."""
    assigned = assign_folds(examples, folds)
    return [
        (
            [e for e, f in zip(examples, assigned) if f != fold],
            [e for e, f in zip(examples, assigned) if f == fold],
        )
        for fold in range(folds)
    ]


def nlu_file_text(examples: Iterable[Example]) -> str:
    """Rasa YAML training data for `examples`, one block per intent."""
    by_intent: Dict[str, List[str]] = {}
    for example in examples:
        by_intent.setdefault(example.intent, []).append(example.text)
    lines = ['version: "3.1"\n', "nlu:\n"]
    for intent, texts in by_intent.items():
        lines.append(f"- intent: {intent}\n  examples: |\n")
        lines.extend(f"    - {text}\n" for text in texts)
    return "".join(lines)


def write_nlu_dir(target: Path, examples: Iterable[Example], extras: Sequence[dict] = (),
                  responses_dir: Optional[Path] = None) -> Path:
    """A training data directory for `rasa train nlu`: the examples, the
    extras and the responses (the ResponseSelector needs them)."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "nlu.yml").write_text(nlu_file_text(examples), encoding="utf-8")
    if extras:
        extra_text = yaml.safe_dump({"version": "3.1", "nlu": list(extras)}, allow_unicode=True)
        (target / "nlu_extras.yml").write_text(extra_text, encoding="utf-8")
    responses_dir = responses_dir or get_settings().responses_dir
    for path in sorted(responses_dir.glob("*.yml")):
        (target / f"responses_{path.name}").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return target


# --- configurations and training -------------------------------------------


def with_epochs(config: dict, epochs: Optional[int]) -> dict:
    """`config` with every epoch-trained component and policy set to `epochs`."""
    if epochs is None:
        return config
    for section in ("pipeline", "policies"):
        for component in config.get(section) or []:
            if component["name"].split(".")[-1] in EPOCH_COMPONENTS:
                component["epochs"] = epochs
    return config


def nlu_config(config_path: Path = ROOT / "config.yml", epochs: Optional[int] = None,
               overrides: Sequence[str] = ()) -> dict:
    """The pipeline of `config_path` (no policies), with `epochs` and
    ``Component.key=value`` overrides."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    with_epochs(config, epochs)
    for component in config["pipeline"]:
        for override in overrides:
            target, _, assignment = override.partition(".")
            key, _, value = assignment.partition("=")
            if component["name"].split(".")[-1] == target:
                component[key] = yaml.safe_load(value)
    config.pop("policies", None)
    return config


def config_with(epochs: int, overrides: List[str]) -> dict:
    """config.yml's pipeline with `epochs` and `Component.key=value` overrides."""
    return nlu_config(ROOT / "config.yml", epochs, overrides)


def config_text(config_path: Path, epochs: Optional[int] = None) -> str:
    """The configuration to train with: the file as it is, or, with an
    epochs override (quick trials), the file rewritten with it."""
    text = config_path.read_text(encoding="utf-8")
    if epochs is None:
        return text
    return yaml.safe_dump(with_epochs(yaml.safe_load(text), epochs), allow_unicode=True, sort_keys=False)


def rasa_env(cache_dir: Optional[Path] = None) -> Dict[str, str]:
    """The environment for a `rasa train` subprocess (quiet, no telemetry;
    with `cache_dir`, Rasa's training cache there instead of .rasa/cache)."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env["RASA_TELEMETRY_ENABLED"] = "false"
    if cache_dir is not None:
        env["RASA_CACHE_DIRECTORY"] = str(cache_dir)
    return env


def run_rasa(args: Sequence[str], log: Optional[Path] = None, cache_dir: Optional[Path] = None) -> None:
    """`python -m rasa <args>` in the project directory; output to `log`
    (or nowhere). Raises CalledProcessError on failure."""
    command = [sys.executable, "-m", "rasa", *args]
    if log is None:
        subprocess.run(command, cwd=ROOT, check=True, env=rasa_env(cache_dir),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as output:
        subprocess.run(command, cwd=ROOT, check=True, env=rasa_env(cache_dir),
                       stdout=output, stderr=subprocess.STDOUT)


def nlu_train_args(config: Path, nlu_dir: Path, out: Path, name: str) -> List[str]:
    return ["train", "nlu", "--config", str(config), "--nlu", str(nlu_dir),
            "--out", str(out), "--fixed-model-name", name]


def full_train_args(config: Path, domain: Path, data: Path, out: Path, name: str) -> List[str]:
    return ["train", "--config", str(config), "--domain", str(domain), "--data", str(data),
            "--out", str(out), "--fixed-model-name", name]


def quiet_rasa_parse_logs() -> None:
    """Keep Rasa's structured logs below WARNING out of this process.

    Used as a library (not through its CLI), Rasa leaves structlog at its
    defaults, which print every event, including a debug line with the text
    of each parsed message, to stdout: a held-out line must never be printed.
    What remains (warnings and errors) goes to stderr.
    """
    import logging

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


async def parse_all(model: Path, cases: List[Case]) -> List[dict]:
    """Rasa's parse of every case's text by the model at `model` (with
    Rasa's debug logs, which repeat each text, silenced)."""
    from rasa.core.agent import Agent

    quiet_rasa_parse_logs()
    agent = Agent.load(str(model))
    return [await agent.parse_message(case.text) for case in cases]


def parse_cases(model: Path, cases: List[Case]) -> List[dict]:
    return asyncio.run(parse_all(model, cases))
