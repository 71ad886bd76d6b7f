"""Score the trained bot on the held-out test set under tests/heldout/.

    python -m bot.evaluate [--model models/bot.tar.gz]

Loads the model in-process with Rasa's Agent and prints FAQ top-1 accuracy,
how often the bot answered wrongly or asked "您是不是想问", and out-of-scope
precision/recall. These lines are never used for training (the validator
rejects any that leak into faq/ or data/).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bot.evaluation import heldout_cases
from bot.report import score
from bot.settings import get_settings


def main(argv=None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(settings.model_path))
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    started = time.monotonic()
    report = score(Path(args.model), heldout_cases(settings.heldout_dir))
    if args.json:
        print(json.dumps(report.summary(), ensure_ascii=False, indent=2))
    else:
        print(report.text())
        print(f"({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
