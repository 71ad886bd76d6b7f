"""Read access to the standard Q&A library for actions (loaded on first use)."""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, List

from bot.faq.library import Entry, Library, load_library
from bot.settings import get_settings


@lru_cache(maxsize=1)
def library() -> Library:
    return load_library(get_settings().faq_dir)


@lru_cache(maxsize=1)
def entries() -> Dict[str, Entry]:
    return library().by_id()


def question_buttons(entry_ids: List[str]) -> List[dict]:
    """Buttons whose payload is the standard question itself: a click asks it."""
    known = entries()
    return [
        {"title": known[entry_id].question, "payload": known[entry_id].question}
        for entry_id in entry_ids
        if entry_id in known
    ]
