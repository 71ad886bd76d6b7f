"""The WeChat channel's shared state on real Redis (127.0.0.1:6379, a key
prefix per test) and in memory: de-duplication across workers, the access
token shared by workers, and the errcodes of WeChat's API (the simulator's)."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.channels.wechat_api import WeChatApi, WeChatApiError
from bot.channels.wechat_dedupe import Deduplicator, delivery_key
from bot.channels.wechat_store import FallbackStore, MemoryStore, RedisStore
from bot.channels.wechat_token import AccessTokenCache
from conftest import free_port
from wechat_simulator import WeChatSimulator

REDIS_URL = "redis://127.0.0.1:6379/0"
APP_ID, APP_SECRET = "wx5e1a2b3c4d5e6f70", "simulated-app-secret"


@pytest.fixture
def prefix():
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_stores(prefix):
    """Two workers' connections to the same Redis."""
    stores = [RedisStore(REDIS_URL), RedisStore(REDIS_URL)]
    try:
        await stores[0].set(f"{prefix}ping", "1", 5)
    except Exception as error:  # pragma: no cover - the machine runs Redis
        pytest.fail(f"Redis at {REDIS_URL} is needed for these tests: {error!r}")
    yield stores
    client = stores[0]._redis()
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    for store in stores:
        await store.close()


@pytest.fixture(scope="module")
def simulator():
    with WeChatSimulator(token="sim-token", app_id=APP_ID, app_secret=APP_SECRET) as running:
        yield running


def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_store_operations(kind, redis_stores, prefix):
    store = MemoryStore() if kind == "memory" else redis_stores[0]
    key = f"{prefix}k"
    assert await store.set_nx(key, "a", 5)
    assert not await store.set_nx(key, "b", 5)
    assert await store.get(key) == "a"
    assert not await store.compare_and_set(key, "x", "c", 5)
    assert await store.compare_and_set(key, "a", "c", 5)
    assert await store.get(key) == "c"
    assert not await store.compare_and_delete(key, "a")
    assert await store.compare_and_delete(key, "c")
    assert await store.get(key) is None
    await store.set(key, "short", 0.2)
    await asyncio.sleep(0.3)
    assert await store.get(key) is None
    assert await store.set_nx(key, "again", 5)


async def test_a_message_is_claimed_once_across_workers(redis_stores, prefix):
    first, second = (Deduplicator(store, prefix) for store in redis_stores)
    key = delivery_key("6054768590064713728", "oUser", "1409735668")
    claims = await asyncio.gather(*(worker.claim(key) for worker in (first, second) * 5))
    assert claims.count(True) == 1


async def test_a_retry_during_the_turn_makes_the_owner_push(redis_stores, prefix):
    owner, other = (Deduplicator(store, prefix) for store in redis_stores)
    key = delivery_key("1001", "oUser", "1")
    assert await owner.claim(key)
    assert not await other.claim(key)
    assert await other.duplicate(key) is None  # "success"
    assert not await owner.answer_passively(key, "答案")  # must push instead
    await owner.pushed(key)
    assert await other.duplicate(key) is None


async def test_a_retry_after_a_passive_reply_gets_the_same_reply(redis_stores, prefix):
    owner, other = (Deduplicator(store, prefix, reply_ttl=0.5) for store in redis_stores)
    key = delivery_key(None, "oUser", "1409735668")
    assert key.startswith("evt:") and "oUser" not in key
    assert await owner.claim(key)
    assert await owner.answer_passively(key, "您好，我是金融客服助手。")
    assert not await other.claim(key)
    assert await other.duplicate(key) == "您好，我是金融客服助手。"
    await asyncio.sleep(0.6)  # the text is kept briefly only; the claim stays
    assert await other.duplicate(key) is None
    assert not await other.claim(key)


async def test_without_redis_a_worker_still_dedupes_in_memory(caplog):
    store = FallbackStore(RedisStore(f"redis://127.0.0.1:{free_port()}/0"))
    dedupe = Deduplicator(store, "test:")
    assert await dedupe.claim("msg:1")
    assert not await dedupe.claim("msg:1")
    assert "shared store unreachable" in caplog.text
    await store.close()


def test_a_token_is_cached_until_shortly_before_it_expires():
    cache = AccessTokenCache(MemoryStore(), fetch=None)
    assert cache._cache_for(7200) == 6900
    assert cache._cache_for(10) == 8


async def test_workers_share_one_token_fetched_once(simulator, redis_stores, prefix):
    workers = [WeChatApi(simulator.base_url, APP_ID, APP_SECRET, store, prefix) for store in redis_stores]
    simulator.expire_tokens()  # WeChat has no valid token for us yet
    before = len(simulator.token_calls)
    customer = openid()
    try:
        await asyncio.gather(*(workers[i % 2].send_text(customer, f"第{i}条") for i in range(20)))
    finally:
        for worker in workers:
            await worker.close()
    assert len(simulator.token_calls) - before == 1
    assert sorted(m.content for m in simulator.sent_to(customer)) == sorted(f"第{i}条" for i in range(20))


async def test_an_expired_token_is_refreshed_once_and_the_message_sent(simulator, prefix):
    api = WeChatApi(simulator.base_url, APP_ID, APP_SECRET, MemoryStore(), prefix)
    customer = openid()
    try:
        await api.send_text(customer, "第一条")
        before = len(simulator.token_calls)
        simulator.expire_tokens()
        await api.send_text(customer, "第二条")
    finally:
        await api.close()
    assert len(simulator.token_calls) - before == 1
    attempts = simulator.sent_to(customer, delivered_only=False)
    assert [(m.content, m.errcode) for m in attempts] == [("第一条", 0), ("第二条", 42001), ("第二条", 0)]


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_a_rejected_token_is_retried_once_only(simulator, prefix, errcode):
    api = WeChatApi(simulator.base_url, APP_ID, APP_SECRET, MemoryStore(), prefix)
    customer = openid()
    simulator.fail_sends(errcode, times=2)
    try:
        with pytest.raises(WeChatApiError) as raised:
            await api.send_text(customer, "你好")
    finally:
        await api.close()
    assert raised.value.errcode == errcode
    assert len(simulator.sent_to(customer, delivered_only=False)) == 2


@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_a_closed_window_or_exhausted_quota_is_reported_not_retried(simulator, prefix, errcode):
    api = WeChatApi(simulator.base_url, APP_ID, APP_SECRET, MemoryStore(), prefix)
    customer = openid()
    await api.send_text(customer, "预热")  # a token in the cache
    before = len(simulator.token_calls)
    simulator.fail_sends(errcode)
    try:
        with pytest.raises(WeChatApiError) as raised:
            await api.send_text(customer, "你好")
    finally:
        await api.close()
    assert raised.value.errcode == errcode
    assert customer not in str(raised.value)
    assert len(simulator.sent_to(customer, delivered_only=False)) == 2  # 预热 + one attempt
    assert len(simulator.token_calls) == before


async def test_a_refused_stable_token_is_reported_and_not_cached(simulator, prefix):
    api = WeChatApi(simulator.base_url, APP_ID, "wrong-secret", MemoryStore(), prefix)
    try:
        with pytest.raises(WeChatApiError) as raised:
            await api.send_text(openid(), "你好")
        assert raised.value.errcode == 40125
        simulator.fail_token(40013)
        with pytest.raises(WeChatApiError) as raised:
            await api.tokens.get()
        assert raised.value.errcode == 40013
    finally:
        await api.close()


async def test_messages_go_out_as_utf8_json(simulator, prefix):
    api = WeChatApi(simulator.base_url, APP_ID, APP_SECRET, MemoryStore(), prefix)
    customer = openid()
    try:
        await api.send_text(customer, "您好，营业时间为9:00-17:00")
    finally:
        await api.close()
    raw = simulator.sent_to(customer)[0].raw
    assert "您好".encode("utf-8") in raw and b"\\u" not in raw
