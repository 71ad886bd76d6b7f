"""The lock store of the scale-out deployment (bot.lock_store) against the
real Redis: two stores stand for two Rasa replicas sharing one conversation's
lock."""
from __future__ import annotations

import asyncio
import threading
from typing import List

import pytest
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore
from redis_fixtures import delete_keys, redis_keys, redis_prefix, redis_server_url  # noqa: F401 (fixtures)


def store(redis_url: str, prefix: str) -> AtomicRedisLockStore:
    from urllib.parse import urlsplit

    url = urlsplit(redis_url)
    return AtomicRedisLockStore(EndpointConfig(
        url=url.hostname, port=url.port or 6379, db=int(url.path.strip("/") or 0),
        key_prefix=prefix.replace(":", ""), type="bot.lock_store.AtomicRedisLockStore",
    ))


@pytest.fixture
def replicas(redis_server_url, redis_prefix):
    stores = [store(redis_server_url, redis_prefix) for _ in range(2)]
    yield stores
    delete_keys(redis_server_url, f"{redis_prefix.replace(':', '')}*")  # Rasa's prefix: letters, digits


def test_tickets_drawn_at_once_on_two_replicas_are_all_different(replicas):
    drawn: List[int] = []
    guard = threading.Lock()

    def draw(replica: AtomicRedisLockStore) -> None:
        for _ in range(50):
            ticket = replica.issue_ticket("c-1")
            with guard:
                drawn.append(ticket)

    threads = [threading.Thread(target=draw, args=(r,)) for r in replicas for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(drawn) == list(range(200)), "no ticket issued twice, none lost"
    assert len(replicas[0].get_lock("c-1").tickets) == 200


def test_turns_of_one_conversation_never_overlap_across_replicas(replicas):
    """Many messages of one conversation, half on each replica: one turn at a
    time, each served once, and nobody fails to get the lock."""
    inside, overlaps, served = [0], [], []

    async def turn(replica: AtomicRedisLockStore, number: int) -> None:
        async with replica.lock("c-2", wait_time_in_seconds=0.01):
            inside[0] += 1
            overlaps.append(inside[0])
            await asyncio.sleep(0.005)
            served.append(number)
            inside[0] -= 1

    def replica_loop(replica: AtomicRedisLockStore, numbers: range, errors: list) -> None:
        async def run() -> None:
            await asyncio.gather(*(turn(replica, n) for n in numbers))
        try:
            asyncio.run(run())
        except Exception as error:  # collected: a LockError would land here
            errors.append(error)

    errors: list = []
    threads = [
        threading.Thread(target=replica_loop, args=(replica, range(i * 20, i * 20 + 20), errors))
        for i, replica in enumerate(replicas)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(served) == list(range(40))
    # `inside` is shared by the two threads: a count above 1 is an overlap
    assert max(overlaps) == 1


def test_the_last_turn_deletes_the_lock(replicas, redis_server_url, redis_prefix):
    async def one() -> None:
        async with replicas[0].lock("c-3"):
            assert replicas[1].get_lock("c-3") is not None

    asyncio.run(one())
    assert replicas[1].get_lock("c-3") is None
    assert redis_keys(redis_server_url, f"{redis_prefix.replace(':', '')}*") == []
