"""bot.parse_cache: repeated messages reuse their NLU parse, bounded, per
model, never shared by reference; on the real server, a cached parse is the
parse."""
from __future__ import annotations

import pytest
from pydantic import ValidationError
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

from bot import parse_cache
from bot.parse_cache import ParseCache
from bot.settings import Settings
from tests.conftest import parse


def counting(result: dict):
    calls = []

    def parse_once():
        calls.append(1)
        return {**result, "entities": list(result.get("entities", []))}

    return parse_once, calls


def test_a_repeated_key_is_parsed_once():
    cache = ParseCache(size=10)
    parse_once, calls = counting({"text": "你好", "intent": {"name": "greet"}, "entities": []})
    first = cache.get_or_parse("你好", parse_once)
    second = cache.get_or_parse("你好", parse_once)
    assert first == second and len(calls) == 1
    assert cache.stats() == {"hits": 1, "misses": 1, "entries": 1, "size": 10}


def test_callers_cannot_change_the_cached_parse():
    cache = ParseCache(size=10)
    parse_once, _calls = counting({"text": "谢谢", "intent": {"name": "thank"}, "entities": []})
    mine = cache.get_or_parse("谢谢", parse_once)
    mine["intent"]["name"] = "changed"
    mine["entities"].append({"entity": "x"})
    again = cache.get_or_parse("谢谢", parse_once)
    assert again["intent"]["name"] == "thank" and again["entities"] == []
    again["intent"]["name"] = "changed too"
    assert cache.get_or_parse("谢谢", parse_once)["intent"]["name"] == "thank"


def test_a_parse_that_is_not_plain_json_is_answered_but_not_kept():
    cache = ParseCache(size=10)
    odd = [{"text": "a", "tags": {"set"}}, {"text": "b", "confidence": float("nan")}]
    for parse_result in odd:
        calls = []
        for _ in range(2):
            got = cache.get_or_parse(parse_result["text"],
                                     lambda r=parse_result: calls.append(1) or r)
            assert got is parse_result
        assert len(calls) == 2
    assert len(cache) == 0


def test_the_least_recently_used_parse_goes_first():
    cache = ParseCache(size=2)
    for text in ("a", "b"):
        cache.get_or_parse(text, lambda t=text: {"text": t})
    cache.get_or_parse("a", lambda: pytest.fail("a is cached"))  # a is now the newest
    cache.get_or_parse("c", lambda: {"text": "c"})  # evicts b
    assert len(cache) == 2
    reparsed = []
    cache.get_or_parse("b", lambda: reparsed.append(1) or {"text": "b"})
    assert reparsed == [1]


def test_size_zero_turns_the_cache_off():
    cache = ParseCache(size=0)
    parse_once, calls = counting({"text": "你好"})
    cache.get_or_parse("你好", parse_once)
    cache.get_or_parse("你好", parse_once)
    assert len(calls) == 2 and len(cache) == 0


def test_the_size_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("BOT_PARSE_CACHE_SIZE", raising=False)
    assert Settings().parse_cache_size == 20_000
    for given, size in (("0", 0), ("500", 500)):
        monkeypatch.setenv("BOT_PARSE_CACHE_SIZE", given)
        assert Settings().parse_cache_size == size
    for bad in ("many", "-1", "1.5"):
        monkeypatch.setenv("BOT_PARSE_CACHE_SIZE", bad)
        with pytest.raises(ValidationError, match="parse_cache_size"):
            Settings()


class FakeMetadata:
    def __init__(self, model_id: str):
        self.model_id = model_id


@pytest.fixture
def installed(monkeypatch):
    """The cache installed around a stand-in for Rasa's graph call, which
    records every (model, text) it runs for; and a processor to call it on."""
    runs = []

    def graph(self, message, tracker, only_output_properties=True):
        runs.append((self.model_metadata.model_id, message.text))
        return {"text": message.text, "intent": {"name": "greet"}, "entities": []}

    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", graph)
    monkeypatch.setattr(parse_cache, "_cache", ParseCache(size=10))
    parse_cache.install()
    parse_cache.install()  # installing twice wraps once
    processor = MessageProcessor.__new__(MessageProcessor)  # only the graph call is used
    return runs, processor


def parse_with(processor, model_id: str, text: str) -> None:
    processor.model_metadata = FakeMetadata(model_id)
    processor._parse_message_with_graph(UserMessage(text), None)


def test_the_installed_cache_keys_by_model_and_text(installed):
    """One graph run per (model, text)."""
    runs, processor = installed
    for model_id, text in [("m1", "你好"), ("m1", "你好"), ("m2", "你好"), ("m1", "您好")]:
        parse_with(processor, model_id, text)
    assert runs == [("m1", "你好"), ("m2", "你好"), ("m1", "您好")]


def test_messages_with_personal_numbers_are_never_kept(installed):
    runs, processor = installed
    private = ["我的手机号13812345678", "身份证11010519491231002X", "卡号6222 0212 3456 7890"]
    for text in private * 2:
        parse_with(processor, "m1", text)
    assert runs == [("m1", text) for text in private * 2]
    assert len(parse_cache.process_cache()) == 0


@pytest.mark.parametrize("text", ["你好", "信用卡年费怎么收", "我想預約開戶", "/affirm"])
def test_on_the_server_a_repeated_message_gets_the_same_parse(bot, text):
    first, second = parse(bot, text), parse(bot, text)
    assert first == second
    assert first["intent"]["name"]
