"""`rasa data validate --fail-on-warnings`, with every warning made fatal.

    python -m bot.validate_rasa

Rasa's own command fails on the validator's findings but lets other warnings
(raised while the domain and data are loaded) scroll by. This runs the same
validation and fails on any warning at all, with one exception: Rasa 3.6
always warns "duplicated intents ... across multiple domain files: faq" when a
retrieval intent is listed in domain.yml (ResponsesSyncImporter merges the
intent it derives from the data into the domain that already lists it), and
leaving it out of domain.yml makes the story reader warn instead. More
are Rasa's by design and reported as expected: the slot auto-fill notice (Rasa's
own ``EXPECTED_WARNINGS`` list silences it), ``EXTERNAL_*`` intents and the
button-only intents having no examples (reminders and the bot's own buttons
send them, nobody types them), and a form's
``utter_ask_<slot>`` not appearing in stories (the form utters it).
"""
from __future__ import annotations

import re
import sys
import warnings
from typing import Iterable

import yaml

from bot.settings import ROOT

# Intents only the bot's own buttons send (/leave_message, /rate_service{...}):
# typed examples of them pulled other messages ("周一到周五几点上班") their way.
BUTTON_ONLY_INTENTS = ("leave_message", "rate_service")

RETRIEVAL_MERGE_NOTICE = (
    "The following duplicated intents have been found across multiple domain files: faq"
)


def expected_warnings(domain: dict) -> Iterable[re.Pattern]:
    yield re.compile(re.escape(RETRIEVAL_MERGE_NOTICE))
    yield re.compile(r"^Slot auto-fill has been removed in 3\.0 ")
    yield re.compile(r"^The intent 'EXTERNAL_\w+' is listed in the domain file, but is not found")
    for intent in BUTTON_ONLY_INTENTS:
        yield re.compile(rf"^The intent '{intent}' is listed in the domain file, but is not found")
    for form in (domain.get("forms") or {}).values():
        for slot in form.get("required_slots") or []:
            yield re.compile(rf"^The utterance 'utter_ask_{slot}' is not used in any story or rule")


def is_expected(message: str, patterns: Iterable[re.Pattern]) -> bool:
    return any(pattern.search(message) for pattern in patterns)


def main() -> int:
    from rasa.cli.utils import validate_files
    from rasa.shared.importers.importer import TrainingDataImporter

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        importer = TrainingDataImporter.load_from_config(
            config_path=str(ROOT / "config.yml"),
            domain_path=str(ROOT / "domain.yml"),
            training_data_paths=[str(ROOT / "data")],
        )
        try:
            validate_files(fail_on_warnings=True, max_history=None, importer=importer)
        except SystemExit as exit_:
            if exit_.code:
                print("rasa data validate: errors (see above)", file=sys.stderr)
                return 1
    relevant = [
        w for w in caught
        if issubclass(w.category, UserWarning) and not issubclass(w.category, DeprecationWarning)
    ]
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    patterns = list(expected_warnings(domain))
    problems = [str(w.message) for w in relevant if not is_expected(str(w.message), patterns)]
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"rasa data validate: {len(problems)} warning(s)"
          + (f" ({len(relevant) - len(problems)} expected notice(s) of Rasa's)"
             if len(relevant) > len(problems) else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
