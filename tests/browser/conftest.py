"""Fixtures for the dashboard tests: the broker the web UI reads (a fresh one, or none)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.services import free_port, picloud_env, redis_server


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """A client of a fresh redis-server that picloud (and so the dashboard) uses as broker."""
    with redis_server() as url, picloud_env(broker_url=url):
        client = redis.Redis.from_url(url)
        try:
            yield client
        finally:
            client.close()


@pytest.fixture
def unreachable_broker() -> Iterator[str]:
    """A broker URL (with a password) where nothing listens, which picloud is pointed at."""
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with picloud_env(broker_url=url):
        yield url
