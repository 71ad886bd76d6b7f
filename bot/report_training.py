"""Train a configuration on the project's data only when its inputs changed,
and remember how long the training took (for the accuracy report).

A *record* (JSON) beside the model holds the fingerprint of the inputs the
model was trained from (the configuration as trained, domain.yml, every file
under data/, the custom components' code for our pipeline, Rasa's version)
and the measured training time. The model is stale when the record is
missing or its fingerprint differs from the inputs' current one.

Training runs `python -m rasa train` in a subprocess (TensorFlow's memory
stays out of the caller) with a private, empty training cache, so the time
measured is a cold training and the project's .rasa/cache is left alone.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from bot.settings import ROOT
from bot.training_split import config_text, full_train_args, run_rasa

# Code whose change changes what our pipeline learns (as the Makefile's
# TRAINING_INPUTS); the baseline uses Rasa's components only.
OUR_CODE_DIRS = (ROOT / "bot" / "nlu", ROOT / "bot" / "jieba")
CODE_SUFFIXES = (".py", ".txt", ".yml")


@dataclass
class TrainingRecord:
    label: str
    config: str  # the configuration file, relative to the project
    fingerprint: str
    seconds: float  # wall-clock time of `rasa train`
    trained_at: str  # local time, ISO 8601
    load_average: float  # 1-minute load average when training started
    epochs: Optional[int]  # the --epochs override of a trial, None for the real thing
    command: str
    trained_now: bool = False  # trained by this run (not stored)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def display_path(path: Path, root: Path = ROOT) -> str:
    path = Path(path)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def training_inputs(domain: Path, data_dir: Path, code_dirs: Sequence[Path] = ()) -> List[Path]:
    """The files a training reads besides its configuration, sorted."""
    files = [domain]
    files += [p for p in data_dir.rglob("*") if p.is_file() and not _ignored(p)]
    for directory in code_dirs:
        files += [
            p for p in directory.rglob("*")
            if p.is_file() and p.suffix in CODE_SUFFIXES and not _ignored(p)
        ]
    return sorted(set(files), key=lambda p: p.as_posix())


def _ignored(path: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in path.parts[-3:])


def training_fingerprint(config: str, files: Iterable[Path], root: Path = ROOT,
                         extra: Sequence[str] = ()) -> str:
    """sha256 over the configuration text, each file's name (relative to
    `root`) and content, and `extra` strings; modification times play no part."""
    digest = hashlib.sha256()

    def feed(label: str, content: bytes) -> None:
        for part in (label.encode("utf-8"), content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)

    feed("config", config.encode("utf-8"))
    for path in sorted(files, key=lambda p: display_path(p, root)):
        feed(f"file:{display_path(path, root)}", Path(path).read_bytes())
    for item in extra:
        feed("extra", item.encode("utf-8"))
    return digest.hexdigest()


def rasa_version() -> str:
    return f"rasa {metadata.version('rasa')}"


def read_record(path: Path) -> Optional[TrainingRecord]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw.pop("trained_now", None)
        return TrainingRecord(**raw)
    except (OSError, ValueError, TypeError):
        return None


def write_record(path: Path, record: TrainingRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = record.to_dict()
    stored.pop("trained_now")
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(stored, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


@dataclass
class TrainingJob:
    """One configuration trained on the project's data.

    With `model`, the trained model is kept there (and reused while fresh);
    without, it is thrown away and only the time is kept (a timing run).
    """
    label: str
    config: Path
    record: Path
    model: Optional[Path] = None
    epochs: Optional[int] = None
    code_dirs: Sequence[Path] = ()
    domain: Path = ROOT / "domain.yml"
    data: Path = ROOT / "data"

    def config_text(self) -> str:
        return config_text(self.config, self.epochs)

    def fingerprint(self) -> str:
        files = training_inputs(self.domain, self.data, self.code_dirs)
        return training_fingerprint(self.config_text(), files, ROOT, [rasa_version()])

    def fresh_record(self) -> Optional[TrainingRecord]:
        """The stored record when the stored model (if any) matches the inputs."""
        record = read_record(self.record)
        if record is None or record.fingerprint != self.fingerprint():
            return None
        if self.model is not None and not self.model.exists():
            return None
        return record

    def command(self) -> str:
        out = display_path(self.model.parent) if self.model else "<temporary directory>"
        name = _model_name(self.model) if self.model else self.label
        config = (f"<{display_path(self.config)} with epochs {self.epochs}>" if self.epochs is not None
                  else display_path(self.config))
        args = full_train_args(config, display_path(self.domain), display_path(self.data), out, name)
        return "python -m rasa " + " ".join(str(a) for a in args)

    def train(self, log: Optional[Path] = None) -> TrainingRecord:
        """Train now (cold, private cache), keep the model if asked, store the record."""
        self.record.parent.mkdir(parents=True, exist_ok=True)
        fingerprint = self.fingerprint()
        name = _model_name(self.model) if self.model else self.label
        work_parent = self.model.parent if self.model else None
        if work_parent is not None:
            work_parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".report-train-", dir=work_parent))
        try:
            config = self.config
            if self.epochs is not None:
                config = work / "config.yml"
                config.write_text(self.config_text(), encoding="utf-8")
            args = full_train_args(config, self.domain, self.data, work / "out", name)
            load = os.getloadavg()[0]
            trained_at = datetime.now().astimezone().isoformat(timespec="seconds")
            started = time.monotonic()
            run_rasa(args, log=log, cache_dir=work / "cache")
            seconds = time.monotonic() - started
            if self.model is not None:  # same file system: the swap is atomic
                os.replace(work / "out" / f"{name}.tar.gz", self.model)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        record = TrainingRecord(
            label=self.label, config=display_path(self.config), fingerprint=fingerprint,
            seconds=round(seconds, 1), trained_at=trained_at, load_average=round(load, 2),
            epochs=self.epochs, command=self.command(), trained_now=True,
        )
        write_record(self.record, record)
        return record

    def ensure(self, log: Optional[Path] = None) -> TrainingRecord:
        return self.fresh_record() or self.train(log)


def _model_name(model: Path) -> str:
    name = model.name
    return name[: -len(".tar.gz")] if name.endswith(".tar.gz") else model.stem
