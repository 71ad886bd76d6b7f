"""Rasa's own conversation tests (tests/conversations/*.yml) against the real
action server: every story's intents and actions must be predicted exactly."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bot.settings import ROOT

pytestmark = pytest.mark.server


def test_conversation_stories_pass(bot, settings, tmp_path):
    result = subprocess.run(
        [
            sys.executable, "-m", "rasa", "test", "core",
            "--model", str(settings.model_path),
            "--stories", str(ROOT / "tests" / "conversations"),
            "--endpoints", str(bot.endpoints),
            "--out", str(tmp_path),
            "--fail-on-prediction-errors",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else result.stdout[-3000:]
    assert result.returncode == 0, details
