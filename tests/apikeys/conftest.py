"""API key tests talk to a real redis-server (the workers' mirror of the keys)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.services import picloud_env, redis_server


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def broker(broker_url: str) -> Iterator[redis.Redis]:
    """picloud (and so the web UI) pointed at a real, emptied redis-server."""
    with picloud_env(broker_url=broker_url):
        client = redis.Redis.from_url(broker_url)
        client.flushall()
        yield client
        client.close()
