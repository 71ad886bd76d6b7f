"""Fixtures of the tests that need a real Redis (shared state of the
scale-out deployment).

``BOT_TEST_REDIS_URL`` names the server (default: redis://127.0.0.1:6379/0).
Each test gets its own key prefix (``redis_prefix``, ``test:<hex>:``), and
every key under it is deleted after the test. When no server answers, the
tests that need Redis are skipped with the reason, unless ``CI`` is set:
then they fail (as ``db_fixtures`` does for PostgreSQL).

Test modules import what they use:
``from redis_fixtures import redis_prefix, redis_server_url, redis_keys, delete_keys``.
"""
from __future__ import annotations

import os
from typing import Iterator, List, Optional
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import pytest

from db_fixtures import unavailable

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def redis_problem(url: str) -> Optional[str]:
    """None when Redis at ``url`` answers PING, else why not."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
        return None
    except Exception as error:  # any reason counts as unreachable
        return f"{_shown(url)}: {type(error).__name__}: {error}"
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    url = os.environ.get("BOT_TEST_REDIS_URL") or DEFAULT_REDIS_URL
    problem = redis_problem(url)
    if problem is not None:
        unavailable("Redis", problem)
    return url


def redis_keys(url: str, pattern: str) -> List[str]:
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=pattern, count=1000))
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_server_url) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:{uuid4().hex}:"
    yield prefix
    delete_keys(redis_server_url, f"{prefix}*")


def delete_keys(url: str, pattern: str) -> None:
    """Delete every key matching ``pattern``."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
