"""Near-duplicate detection for short Chinese questions.

Questions are compared on their character bigrams (Jaccard) after removing
what does not change meaning: script, case, punctuation, whitespace and
politeness fillers. An inverted index keeps it fast on thousands of lines.
"""
from __future__ import annotations

import re
from collections import defaultdict
from itertools import combinations
from typing import Dict, FrozenSet, Hashable, Iterable, List, Set, Tuple

from bot.script import to_simplified

_FILLERS = re.compile(r"请问|麻烦|你好|您好|谢谢|一下|吗|呢|啊|呀|吧|哦|嘛")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    text = to_simplified(text).lower()
    return _FILLERS.sub("", _NOISE.sub("", text))


def bigrams(text: str) -> FrozenSet[str]:
    text = normalise(text)
    if len(text) < 2:
        return frozenset({text})
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def jaccard(a: FrozenSet[str], b: FrozenSet[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def near_duplicates(
    items: Iterable[Tuple[Hashable, str]], threshold: float
) -> List[Tuple[Tuple[Hashable, str], Tuple[Hashable, str], float]]:
    """Pairs of (owner, text) from *different* owners at or above `threshold`."""
    items = list(items)
    grams = [bigrams(text) for _, text in items]
    index: Dict[str, Set[int]] = defaultdict(set)
    for position, gram_set in enumerate(grams):
        for gram in gram_set:
            index[gram].add(position)
    candidates: Set[Tuple[int, int]] = set()
    for positions in index.values():
        if len(positions) < 200:  # a bigram on every line says nothing
            candidates.update(combinations(sorted(positions), 2))
    pairs = []
    for i, j in sorted(candidates):
        if items[i][0] == items[j][0]:
            continue
        score = jaccard(grams[i], grams[j])
        if score >= threshold:
            pairs.append((items[i], items[j], score))
    return pairs
