"""The standard Q&A library as typed data, loaded from the YAML under ``faq/``."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Dict, List

import yaml
from pydantic import BaseModel, Field, validator

MIN_SIMILAR = 12


class Entry(BaseModel):
    id: str = Field(regex=r"^[a-z][a-z0-9_]*$")
    question: str
    similar: List[str]
    answer: str
    clauses: List[str]
    related: List[str]
    reviewed: dt.date

    @validator("question", "answer")
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @validator("similar", each_item=True)
    def _similar_not_blank(cls, value: str) -> str:
        if not str(value).strip():
            raise ValueError("similar question must not be blank")
        return str(value).strip()

    @property
    def examples(self) -> List[str]:
        """Every training phrasing: the standard question first."""
        return [self.question, *self.similar]


class Chapter(BaseModel):
    chapter: int
    title: str
    entries: List[Entry]
    source: Path

    class Config:
        arbitrary_types_allowed = True


class Library(BaseModel):
    chapters: List[Chapter]
    featured: List[str]

    @property
    def entries(self) -> List[Entry]:
        return [entry for chapter in self.chapters for entry in chapter.entries]

    def by_id(self) -> Dict[str, Entry]:
        return {entry.id: entry for entry in self.entries}


def chapter_files(faq_dir: Path) -> List[Path]:
    return sorted(faq_dir.glob("ch*.yml"))


def load_library(faq_dir: Path) -> Library:
    """Parse every chapter file; raises pydantic.ValidationError on bad shape."""
    chapters = []
    for path in chapter_files(faq_dir):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        chapters.append(Chapter(source=path, **raw))
    featured_path = faq_dir / "featured.yml"
    featured = []
    if featured_path.exists():
        featured = (yaml.safe_load(featured_path.read_text(encoding="utf-8")) or {}).get(
            "featured", []
        )
    return Library(chapters=chapters, featured=featured)


def load_heldout(heldout_dir: Path) -> Dict[str, List[str]]:
    """Held-out FAQ phrasings by entry id (tests/heldout/faq_*.yml)."""
    heldout: Dict[str, List[str]] = {}
    for path in sorted(heldout_dir.glob("faq_*.yml")):
        for entry_id, lines in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            heldout.setdefault(entry_id, []).extend(str(line).strip() for line in lines)
    return heldout
