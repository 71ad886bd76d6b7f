"""Facts about the handbook text that the library is checked against."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

_SECTION = re.compile(r"^(\d\.\d)\s*(\S.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Handbook:
    text: str
    sections: Dict[str, str]

    @classmethod
    def read(cls, path: Path) -> "Handbook":
        text = path.read_text(encoding="utf-8")
        sections = {number: body for number, body in _SECTION.findall(text)}
        return cls(text=text, sections=sections)

    def contains(self, phrase: str) -> bool:
        return _compact(phrase) in _compact(self.text)


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("：", ":").replace("－", "-")
