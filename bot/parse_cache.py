"""Remember the NLU parse of repeated messages.

Customers repeat themselves: greetings, "谢谢", "确认", the same branch names
and times when booking, the handbook's common questions. Rasa runs the whole
NLU graph (OpenCC, jieba, two CountVectorizers, DIET, the ResponseSelector,
the FAQ re-ranker) for every message, although its output depends on the
message text alone: no component of ours reads the tracker or the message's
metadata, and every one predicts deterministically. So a parse is kept, per
model, in a bounded least-recently-used map keyed by the text, and a repeated
message skips the graph.

Messages holding a phone, ID-card or card number are never kept: they seldom
repeat, and customers' personal data stays where it belongs (the tracker
store), not in a cache.

It is a per-process cache: nothing is shared between replicas because
nothing needs to be (each replica computes the same parse), and a newly
loaded model starts with an empty one (the key holds the model's id).
Hits and misses are counted, for the benchmark and the log.

Installed by ``bot.rasa_server`` around ``MessageProcessor._parse_message_with_graph``,
the one place where Rasa 3.6 runs the NLU graph for an incoming message.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Hashable, Optional

from bot.privacy import holds_personal_number
from bot.settings import get_settings

logger = logging.getLogger(__name__)

REPORT_EVERY = 1000  # lookups between two log lines of the hit count


class ParseCache:
    """A bounded LRU map from a key to a parse (a JSON-like dict).

    A parse is kept as its JSON text: about 2.4 KB, against some 11 KB as
    Python objects (measured on our model's parses), and every caller gets
    a fresh copy by decoding it, so that Rasa's changes to a parse (it adds
    the full retrieval intent) never reach the cached one. A parse that is
    not plain JSON is returned and not kept."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("the cache size cannot be negative")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._parses: "OrderedDict[Hashable, str]" = OrderedDict()
        self._lock = threading.Lock()  # Rasa may parse from worker threads too

    def __len__(self) -> int:
        return len(self._parses)

    def get_or_parse(self, key: Hashable, parse: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
        if self.size == 0:
            return parse()
        with self._lock:
            found = self._parses.get(key)
            if found is not None:
                self._parses.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            if (self.hits + self.misses) % REPORT_EVERY == 0:
                logger.info("parse cache: %s", self.stats())
            if found is not None:
                return json.loads(found)
        parsed = parse()
        try:
            encoded = json.dumps(parsed, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            logger.debug("parse cache: a parse that is not plain JSON was not kept")
            return parsed
        with self._lock:
            self._parses[key] = encoded
            self._parses.move_to_end(key)
            while len(self._parses) > self.size:
                self._parses.popitem(last=False)
        return parsed

    def stats(self) -> Dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "entries": len(self._parses),
                "size": self.size}


_cache: Optional[ParseCache] = None


def process_cache() -> ParseCache:
    """This process's cache, made on first use with the configured size
    (``BOT_PARSE_CACHE_SIZE``)."""
    global _cache
    if _cache is None:
        _cache = ParseCache(get_settings().parse_cache_size)
    return _cache


def install() -> None:
    """Wrap Rasa's NLU graph call with this process's cache."""
    from rasa.core.processor import MessageProcessor

    parse_with_graph = MessageProcessor._parse_message_with_graph
    if getattr(parse_with_graph, "parse_cache", False):
        return

    def cached_parse(self, message, tracker, only_output_properties: bool = True):
        text = message.text
        if not isinstance(text, str) or holds_personal_number(text):
            return parse_with_graph(self, message, tracker, only_output_properties)
        key = (self.model_metadata.model_id, text, only_output_properties)
        return process_cache().get_or_parse(
            key, lambda: parse_with_graph(self, message, tracker, only_output_properties)
        )

    cached_parse.parse_cache = True
    MessageProcessor._parse_message_with_graph = cached_parse
