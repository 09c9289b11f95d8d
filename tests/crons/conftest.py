"""Cron tests run on the real stack: Django's live server (the HTTP API cloud.cron calls), the
session's redis-server and Celery workers, and an API key issued for each test."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from picloud import keys, signing
from picloud.client import Cloud
from picloud.engines.cluster import ClusterEngine
from tests.queueing import message_of, place, take_all
from tests.services import picloud_env
from webui.apikeys.issuing import issue_key
from webui.apikeys.models import ApiKey

#: A queue no worker serves (``_env="held"``): runs wait there until a test moves them.
HELD = "c1.held"


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    """The API keys' secrets need no slow hash in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Account:
    """An issued API key and its secret (published to the fleet's Redis)."""

    key: str
    secret: str
    row: ApiKey


@pytest.fixture
def account(fleet: redis.Redis, transactional_db) -> Account:
    row, secret = issue_key(description="cron tests")
    return Account(row.key, secret, row)


@pytest.fixture
def user(account: Account, live_server) -> Iterator[Account]:
    """cloud.cron configured as ``account`` against the live server."""
    with picloud_env(server_url=live_server.url, api_key=account.key, api_secretkey=account.secret):
        yield account


@pytest.fixture
def jobs(cluster, account: Account) -> Iterator[Cloud]:
    """The cloud API on the fleet as ``account`` (to read its crons' runs)."""
    made = Cloud(lambda: ClusterEngine(cluster.url, account.key, account.secret), lambda: "c")
    yield made
    made.close()


class CreatesFile:
    """Unpickling this creates ``path``: what an attacker would slip in."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def release(broker: redis.Redis, change: Callable[[dict], None] = lambda spec: None) -> dict:
    """Move the one held run to c1 (where a worker takes it), after ``change`` edited its
    message's spec; return the spec sent."""
    held = take_all(broker, HELD)
    assert held, f"no run waits on {HELD}"
    [(chunk, priority)] = held
    spec = message_of(broker, chunk)
    change(spec)
    broker.hset(keys.chunk_message(chunk), "message", json.dumps(spec))
    place(broker, "c1", chunk, priority)
    return spec


def store_function(broker: redis.Redis, obj: object) -> str:
    """Store ``obj`` pickled as a function blob; return its digest."""
    blob = pickle.dumps(obj)
    digest = signing.digest(blob)
    broker.set(keys.function(digest), blob)
    return digest


def absent(path: str) -> bool:
    return not os.path.exists(path)
